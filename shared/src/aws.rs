//! The AWS SDK set up for a cold start: credentials and region straight from
//! the environment Lambda provides, and the same HTTP client (one connection
//! pool, one TLS configuration) as the Rollee client.

use std::time::Duration;

use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::timeout::TimeoutConfig;

/// A whole AWS call (Secrets Manager, DynamoDB, EventBridge), SDK retries
/// included, ends within this, unless the function sets its own (the
/// webhook's, under Rollee's 10 s): a secret re-read after a 401 sits inside
/// the Rollee client's budget.
pub const AWS_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// An SDK configuration loader that uses `http` for its calls. In Lambda the
/// credentials and the region are environment variables: they are read
/// directly, without probing profile files, IMDS or SSO at every cold start.
/// Elsewhere the SDK's usual chain applies. `AWS_ENDPOINT_URL` is honoured.
pub fn loader(http: &reqwest::Client) -> ConfigLoader {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(ReqwestHttpClient(http.clone()))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(AWS_CALL_TIMEOUT)
                .build(),
        );
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    if let Some(region) = std::env::var("AWS_REGION")
        .ok()
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
    {
        loader = loader.region(Region::new(region));
    }
    loader
}

/// The SDK's HTTP client, over reqwest: the SDK's own default would bring a
/// second connector and load the system's CA certificates a second time.
#[derive(Debug, Clone)]
struct ReqwestHttpClient(reqwest::Client);

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for ReqwestHttpClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let method = reqwest::Method::from_bytes(request.method().as_bytes())
                .map_err(|e| ConnectorError::user(e.into()))?;
            // Secrets Manager requests are small JSON documents, always in memory.
            let body = request
                .body()
                .bytes()
                .ok_or_else(|| {
                    ConnectorError::user("streaming request bodies are not supported".into())
                })?
                .to_vec();
            let mut builder = client.request(method, request.uri());
            for (name, value) in request.headers() {
                builder = builder.header(name, value);
            }
            let response = builder.body(body).send().await.map_err(connector_error)?;
            let status = StatusCode::try_from(response.status().as_u16())
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let headers = response.headers().clone();
            let bytes = crate::http::read_capped(response, crate::http::MAX_RESPONSE_BYTES)
                .await
                .map_err(|e| match e {
                    crate::http::BodyError::Read(e) => connector_error(e),
                    crate::http::BodyError::TooLarge => ConnectorError::other(
                        "the response body is over the size limit".into(),
                        None,
                    ),
                })?;
            // A body, not in-memory bytes: the SDK logs the response at TRACE
            // with its Debug, which would print in-memory bytes, the secret's value among them.
            let body = SdkBody::from_body_1_x(http_body_util::Full::new(bytes));
            let mut out = Response::new(status, body);
            for (name, value) in &headers {
                if let Ok(value) = value.to_str() {
                    out.headers_mut()
                        .append(name.as_str().to_owned(), value.to_owned());
                }
            }
            Ok(out)
        })
    }
}

fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else {
        ConnectorError::io(e.into())
    }
}
