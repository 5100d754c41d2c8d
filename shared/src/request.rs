//! What a handler needs from an API Gateway request: the caller, the path's
//! `user_id`, a bounded JSON body, the request id.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::link::parse_uuid;
use crate::problem::ApiError;

/// Bodies above this are refused with 413 before they are parsed. The largest
/// legitimate body is under it: metadata at its limits is 20 values of 512
/// characters, at most 6 bytes each once JSON-escaped (61,440 bytes), plus
/// 20 ASCII keys of 64 characters.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The longest `sub` accepted. OIDC caps none, but every real issuer's is far
/// shorter (Cognito: a UUID; Auth0: `provider|id`), and it is written into
/// Rollee's metadata.
pub const MAX_SUB_BYTES: usize = 256;

/// The authenticated caller: the `sub` claim of the app's login token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(String);

impl Caller {
    pub fn new(sub: impl Into<String>) -> Self {
        Self(sub.into())
    }

    pub fn sub(&self) -> &str {
        &self.0
    }
}

/// The caller from `requestContext.authorizer.jwt.claims.sub`, exactly as the
/// authorizer gives it. Only when the request carries no JWT claims at all is
/// `dev_caller` (DEV_CALLER_SUB, local development) assumed. Otherwise: 401,
/// never a silent default, and 401 for a `sub` that is empty, over
/// [`MAX_SUB_BYTES`], or has surrounding whitespace or control characters
/// (`" bob"` is not `bob`).
///
/// Local development only, where there is no authorizer: with a
/// `dev_caller`, a request without claims may name another caller in
/// [`DEV_CALLER_HEADER`] (make dev's web front sets it from a
/// `Bearer dev-caller:<sub>` token), so that two callers can be tried
/// locally. Without a `dev_caller`, which a deployed function never has
/// (DEV_CALLER_SUB stops it at start), the header means nothing.
pub fn caller(request: &Request, dev_caller: Option<&str>) -> Result<Caller, ApiError> {
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims)
            .filter(|claims| !claims.is_empty()),
        _ => None,
    };
    match claims {
        Some(claims) => claims
            .get("sub")
            .filter(|s| is_plain_sub(s))
            .map(Caller::new)
            .ok_or_else(ApiError::unauthenticated),
        None => {
            let dev_caller = dev_caller.ok_or_else(ApiError::unauthenticated)?;
            match request.headers().get(DEV_CALLER_HEADER) {
                None => Ok(Caller::new(dev_caller)),
                Some(named) => named
                    .to_str()
                    .ok()
                    .filter(|s| is_plain_sub(s))
                    .map(Caller::new)
                    .ok_or_else(ApiError::unauthenticated),
            }
        }
    }
}

/// The header naming the caller in local development (see [`caller`]).
pub const DEV_CALLER_HEADER: &str = "x-dev-caller-sub";

fn is_plain_sub(sub: &str) -> bool {
    !sub.is_empty()
        && sub.len() <= MAX_SUB_BYTES
        && sub.trim() == sub
        && !sub.chars().any(char::is_control)
}

/// Lambda's request id (the one in the function's logs), else API Gateway's, else a fresh one.
pub fn request_id(request: &Request) -> String {
    if let Some(context) = request.lambda_context_ref()
        && !context.request_id.is_empty()
    {
        return context.request_id.clone();
    }
    if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref()
        && let Some(id) = context.request_id.as_deref().filter(|id| !id.is_empty())
    {
        return id.to_owned();
    }
    Uuid::new_v4().to_string()
}

/// `user_id` from `pathParameters`, which API Gateway and `cargo lambda
/// watch`'s router fill from routes such as `/users/{user_id}/sessions`.
pub fn user_id(request: &Request) -> Result<Uuid, ApiError> {
    path_uuid(request, "user_id", "user")
}

/// `account_id` from `pathParameters` (`/accounts/{account_id}/reconnect`).
pub fn account_id(request: &Request) -> Result<Uuid, ApiError> {
    path_uuid(request, "account_id", "account")
}

fn path_uuid(request: &Request, name: &str, what: &str) -> Result<Uuid, ApiError> {
    let params = request.path_parameters();
    let raw = params
        .first(name)
        .ok_or_else(|| ApiError::bad_request(format!("The path has no {what} id.")))?;
    parse_uuid(raw)
        .ok_or_else(|| ApiError::bad_request(format!("The {what} id in the path is not a UUID.")))
}

/// The JSON body, or `None` when there is none (empty or whitespace only).
/// Over [`MAX_BODY_BYTES`]: 413. Not JSON, unknown fields, wrong types: 400.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<Option<T>, ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        // `Body` is non-exhaustive; a kind of body we do not know is no JSON we accept.
        _ => return Err(ApiError::bad_request("The request body is not JSON.")),
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    // JSON's whitespace (RFC 8259), not `u8::is_ascii_whitespace`, which
    // also counts form feed: a body of "\x0c" is not JSON, and no empty body.
    match bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        None => return Ok(None),
        // serde would read a struct from an array too: every body here is an object.
        Some(b'{') => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "The request body must be a JSON object.",
            ));
        }
    }
    serde_json::from_slice(bytes).map(Some).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                // serde's message names the field and what was expected; the
                // position is noise for a one-line body.
                let message = e.to_string();
                let message = message.split(" at line ").next().unwrap_or_default();
                ApiError::bad_request(format!(
                    "The request body does not have the expected fields: {message}."
                ))
            }
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request("The request body is not valid JSON.")
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;

    fn request(event: serde_json::Value) -> Request {
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    fn event(
        claims: Option<serde_json::Value>,
        path: &str,
        params: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let mut context = serde_json::json!({
            "requestId": "apigw-1",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
            "timeEpoch": 0
        });
        if let Some(claims) = claims {
            context["authorizer"] = serde_json::json!({"jwt": {"claims": claims, "scopes": null}});
        }
        let mut e = serde_json::json!({
            "version": "2.0", "routeKey": "POST /x", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": context, "isBase64Encoded": false
        });
        if let Some(params) = params {
            e["pathParameters"] = params;
        }
        e
    }

    #[test]
    fn the_caller_is_the_sub_claim() {
        let r = request(event(
            Some(serde_json::json!({"sub": "alice"})),
            "/users",
            None,
        ));
        assert_eq!(caller(&r, Some("dev")).unwrap().sub(), "alice");
    }

    #[test]
    fn no_claims_is_401_unless_a_dev_caller_is_set() {
        let r = request(event(None, "/users", None));
        assert_eq!(caller(&r, None).unwrap_err().status(), 401);
        assert_eq!(caller(&r, Some("dev")).unwrap().sub(), "dev");
    }

    #[test]
    fn the_dev_caller_header_names_the_caller_only_where_a_dev_caller_is_set() {
        let mut e = event(None, "/users", None);
        e["headers"][DEV_CALLER_HEADER] = "bob".into();
        let r = request(e.clone());
        assert_eq!(caller(&r, Some("dev")).unwrap().sub(), "bob");
        // Deployed (no DEV_CALLER_SUB): the header is nothing, no claims is 401.
        assert_eq!(caller(&r, None).unwrap_err().status(), 401);
        // Claims always win over it.
        e["requestContext"]["authorizer"] =
            serde_json::json!({"jwt": {"claims": {"sub": "alice"}, "scopes": null}});
        assert_eq!(
            caller(&request(e.clone()), Some("dev")).unwrap().sub(),
            "alice"
        );
        // A header that is no plain sub is 401, not the default caller.
        let mut e = event(None, "/users", None);
        e["headers"][DEV_CALLER_HEADER] = " bob".into();
        assert_eq!(caller(&request(e), Some("dev")).unwrap_err().status(), 401);
    }

    #[test]
    fn claims_without_a_sub_are_401_even_with_a_dev_caller() {
        let r = request(event(
            Some(serde_json::json!({"email": "a@b"})),
            "/users",
            None,
        ));
        assert_eq!(caller(&r, Some("dev")).unwrap_err().status(), 401);
        let r = request(event(Some(serde_json::json!({"sub": " "})), "/users", None));
        assert_eq!(caller(&r, Some("dev")).unwrap_err().status(), 401);
    }

    #[test]
    fn the_sub_is_taken_exactly_or_refused() {
        let long = "b".repeat(MAX_SUB_BYTES + 1);
        for sub in [" bob", "bob\n", "bob\u{a0}", "bo\u{7}b", "", long.as_str()] {
            let r = request(event(
                Some(serde_json::json!({ "sub": sub })),
                "/users",
                None,
            ));
            assert_eq!(
                caller(&r, Some("dev")).unwrap_err().status(),
                401,
                "{sub:?}"
            );
        }
        for sub in [
            "bob",
            "auth0|5f7c8ec7c33c6c004bbafe82",
            &"b".repeat(MAX_SUB_BYTES),
        ] {
            let r = request(event(
                Some(serde_json::json!({ "sub": sub })),
                "/users",
                None,
            ));
            assert_eq!(caller(&r, None).unwrap().sub(), sub);
        }
    }

    #[test]
    fn user_id_from_path_parameters_only() {
        let id = "0b7c7b5e-7a59-4e61-9a55-3d0f8f0c2a11";
        let r = request(event(
            None,
            "/users/x/sessions",
            Some(serde_json::json!({"user_id": id})),
        ));
        assert_eq!(user_id(&r).unwrap().to_string(), id);
        let r = request(event(
            None,
            "/users/x/sessions",
            Some(serde_json::json!({"user_id": "not-a-uuid"})),
        ));
        assert_eq!(user_id(&r).unwrap_err().status(), 400);
        // A path the router did not match (a plain `/lambda-url/…` call).
        let r = request(event(
            None,
            &format!("/lambda-url/new-session/users/{id}/sessions"),
            None,
        ));
        assert_eq!(user_id(&r).unwrap_err().status(), 400);
    }

    #[test]
    fn the_request_id_comes_from_api_gateway_without_a_lambda_context() {
        let r = request(event(None, "/users", None));
        assert_eq!(request_id(&r), "apigw-1");
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Probe {
        #[allow(dead_code)]
        a: String,
    }

    fn with_body(body: Body) -> Request {
        let mut r = http::Request::new(body);
        *r.method_mut() = http::Method::POST;
        r
    }

    #[test]
    fn bodies_are_bounded_and_strict() {
        assert!(
            json_body::<Probe>(&with_body(Body::Empty))
                .unwrap()
                .is_none()
        );
        assert!(
            json_body::<Probe>(&with_body(Body::Text(" \n".into())))
                .unwrap()
                .is_none()
        );
        assert!(
            json_body::<Probe>(&with_body(Body::Text(r#"{"a":"x"}"#.into())))
                .unwrap()
                .is_some()
        );
        let e = json_body::<Probe>(&with_body(Body::Text("{".into()))).unwrap_err();
        assert_eq!(
            (e.status().as_u16(), e.detail.as_str()),
            (400, "The request body is not valid JSON.")
        );
        let e =
            json_body::<Probe>(&with_body(Body::Text(r#"{"a":"x","b":1}"#.into()))).unwrap_err();
        assert!(e.detail.contains("unknown field `b`"), "{}", e.detail);
        let e = json_body::<Probe>(&with_body(Body::Text(r#"["x"]"#.into()))).unwrap_err();
        assert_eq!(e.detail, "The request body must be a JSON object.");
        let e = json_body::<Probe>(&with_body(Body::Text(r#"{"a":1}"#.into()))).unwrap_err();
        assert_eq!(e.status(), 400);
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        assert_eq!(
            json_body::<Probe>(&with_body(Body::Text(big)))
                .unwrap_err()
                .status(),
            413
        );
    }

    #[test]
    fn only_json_whitespace_makes_an_empty_body() {
        #[derive(Debug, serde::Deserialize)]
        struct Any {}
        let with = |text: &str| {
            let mut r = Request::new(Body::Text(text.to_owned()));
            *r.method_mut() = http::Method::POST;
            json_body::<Any>(&r)
        };
        assert!(with(" \t\r\n").unwrap().is_none());
        for not_json in ["\x0c", "\x0b", " \x0c{}", "\u{a0}"] {
            assert_eq!(
                with(not_json).unwrap_err().status(),
                400,
                "{not_json:?} is no JSON body"
            );
        }
    }
}
