//! Registers a deployment's webhook URL with Rollee for each of its five
//! types (`PUT /webhooks/{users,accounts,endpoints,multi_endpoints,rollee_connect_events}`),
//! each with the URL, the header Rollee must
//! send (its value derived from the generated webhook secret) and, when
//! signatures are on, the HMAC key. Rollee replaces the whole configuration
//! of each kind with what is sent [I], so all of it is sent every time, and
//! running it again is harmless.
//!
//! `make register-webhooks STACK=<stack>` runs it with the stack's outputs;
//! by hand:
//!
//! ```text
//! ROLLEE_API_URL=https://api.getrollee.com/api/v0.5 \
//! ROLLEE_SECRET_ID=<Rollee JWT secret ARN> WEBHOOK_SECRET_ID=<webhook secret ARN> \
//! WEBHOOK_HEADER=x-rollee-webhook-token WEBHOOK_SIGNATURE=off \
//!   cargo run -p webhook --bin register-webhooks -- https://<api>/webhooks/rollee
//! ```
//!
//! (`ROLLEE_TOKEN` and `WEBHOOK_SECRET` in place of the two secret ids, for
//! the local sandbox.) It prints what it registered, never a secret.
//!
//! `register-webhooks --delete` (what `make destroy` runs first) removes
//! every configuration instead (`DELETE /webhooks/{type}` [C]),
//! with only ROLLEE_API_URL and the JWT. Rollee keeps one configuration of
//! each kind per client (per JWT): a stack sharing this JWT loses its
//! registration too.

use rollee_shared::config::{ConfigError, SANDBOX_API_URL, VAR_API_URL, VAR_SECRET_ID, VAR_TOKEN};
use rollee_shared::rollee::{ClientOptions, RolleeClient, WebhookKind};
use rollee_shared::token::{Jwt, Origin, TokenPolicy, TokenSource};
use rollee_shared::webhook::config::WebhookConfig;
use rollee_shared::webhook::{read_credentials, registration};

const USAGE: &str =
    "usage: register-webhooks <https URL of POST /webhooks/rollee> | register-webhooks --delete";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let url = match (args.next(), args.next()) {
        (Some(flag), None) if flag == "--delete" => return unregister().await,
        (Some(url), None) if !url.starts_with('-') => url,
        _ => return Err(USAGE.to_owned()),
    };
    let parsed = url::Url::parse(&url).map_err(|e| format!("{url} is not a URL: {e}"))?;
    let local = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if parsed.scheme() != "https" && !local {
        return Err(format!("{url}: Rollee must deliver over https"));
    }

    let (api_url, origin) = rollee()?;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    // The receiver's own settings (the bus and the table are not needed here).
    let webhook = WebhookConfig::from_lookup(|name| match name {
        "EVENT_BUS_NAME" | "OWNERSHIP_TABLE" => Some("unused".to_owned()),
        _ => var(name),
    })
    .map_err(|e| e.to_string())?;

    let options = ClientOptions::default();
    let http = rollee_shared::http::client(options.timeouts())?;
    let sdk_config = rollee_shared::aws::loader(&http).load().await;
    let credentials = read_credentials(&webhook.secret, &sdk_config).await?;
    let tokens = TokenSource::load(&origin, TokenPolicy::default(), &sdk_config)
        .await
        .map_err(|e| e.to_string())?;
    let client = RolleeClient::with_http(api_url.clone(), tokens, http, options);

    let body = registration(&url, &webhook.header, &credentials, webhook.signature);
    for kind in WebhookKind::ALL {
        client
            .put_webhook(kind, &body, client.deadline())
            .await
            .map_err(|e| format!("PUT /webhooks/{}: {e}", kind.name()))?;
        println!(
            "registered {} webhooks at {api_url}: POST {url}, header {}, signature {}",
            kind.name(),
            webhook.header,
            match webhook.signature {
                Some(encoding) => format!("X-Signature ({encoding:?})"),
                None => "off".to_owned(),
            }
        );
    }
    Ok(())
}

/// The Rollee API and where its JWT comes from, from the environment.
fn rollee() -> Result<(url::Url, Origin), String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let api_url = var(VAR_API_URL).unwrap_or_else(|| SANDBOX_API_URL.to_owned());
    let api_url =
        url::Url::parse(api_url.trim()).map_err(|_| ConfigError::BadApiUrl.to_string())?;
    let origin = match (var(VAR_SECRET_ID), var(VAR_TOKEN)) {
        (Some(secret_id), None) => Origin::SecretsManager { secret_id },
        (None, Some(token)) => Origin::Fixed(Jwt::new(token.trim())),
        (None, None) => return Err(ConfigError::NoTokenSource.to_string()),
        (Some(_), Some(_)) => return Err(ConfigError::TwoTokenSources.to_string()),
    };
    Ok((api_url, origin))
}

/// `--delete`: both webhook configurations removed at Rollee.
async fn unregister() -> Result<(), String> {
    let (api_url, origin) = rollee()?;
    let options = ClientOptions::default();
    let http = rollee_shared::http::client(options.timeouts())?;
    let sdk_config = rollee_shared::aws::loader(&http).load().await;
    let tokens = TokenSource::load(&origin, TokenPolicy::default(), &sdk_config)
        .await
        .map_err(|e| e.to_string())?;
    let client = RolleeClient::with_http(api_url.clone(), tokens, http, options);
    for kind in WebhookKind::ALL {
        let removed = client
            .delete_webhook(kind, client.deadline())
            .await
            .map_err(|e| format!("DELETE /webhooks/{}: {e}", kind.name()))?;
        if removed {
            println!("removed the {} webhooks at {api_url}", kind.name());
        } else {
            println!("no {} webhooks were registered at {api_url}", kind.name());
        }
    }
    Ok(())
}
