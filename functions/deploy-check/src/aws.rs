//! The hook's two AWS calls, SigV4-signed with the SDK's signer and the
//! credentials the SDK's default chain finds (the function's role).

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use rollee_shared::http::{Timeouts, client};

/// The Lambda API's Invoke and CodeDeploy's JSON API, in one region.
pub struct Aws {
    http: reqwest::Client,
    region: String,
    /// `AWS_ENDPOINT_URL`: one endpoint for every service (tests).
    endpoint: Option<String>,
    credentials: SharedCredentialsProvider,
}

/// A synchronous invoke's answer.
#[derive(Debug)]
pub struct Invoked {
    /// `X-Amz-Function-Error`: the function failed (its body is an error object).
    pub function_error: Option<String>,
    pub body: Vec<u8>,
}

impl Aws {
    pub async fn from_env() -> Result<Self, String> {
        let http = client(Timeouts {
            connect: Duration::from_secs(2),
            attempt: Duration::from_secs(50),
        })?;
        let config = rollee_shared::aws::loader(&http).load().await;
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or("no AWS region (AWS_REGION)")?;
        let credentials = config
            .credentials_provider()
            .ok_or("no AWS credentials provider")?;
        let endpoint = config
            .endpoint_url()
            .map(|e| e.trim_end_matches('/').to_owned());
        Ok(Self {
            http,
            region,
            endpoint,
            credentials,
        })
    }

    fn url(&self, service: &str, path: &str) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("{endpoint}{path}"),
            None => format!("https://{service}.{}.amazonaws.com{path}", self.region),
        }
    }

    /// A signed POST; the answer's status, `X-Amz-Function-Error` and body.
    async fn post(
        &self,
        service: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<(u16, Option<String>, Vec<u8>), String> {
        let url = self.url(service, path);
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| format!("no AWS credentials: {e}"))?;
        let identity = Identity::from(credentials);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("signing {service}: {e}"))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| format!("signing {service}: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("signing {service}: {e}"))?
            .into_parts();
        let mut request = self.http.post(&url).timeout(timeout).body(body);
        for (name, value) in headers.iter().copied().chain(instructions.headers()) {
            request = request.header(name, value);
        }
        let answer = request
            .send()
            .await
            .map_err(|e| format!("{service} did not answer: {e}"))?;
        let status = answer.status().as_u16();
        let function_error = answer
            .headers()
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = answer
            .bytes()
            .await
            .map_err(|e| format!("{service}'s answer could not be read: {e}"))?;
        Ok((status, function_error, body.to_vec()))
    }

    /// Lambda's `Invoke` (RequestResponse) of `target` with the self-test payload.
    pub async fn invoke(&self, target: &str, timeout: Duration) -> Result<Invoked, String> {
        let path = format!("/2015-03-31/functions/{}/invocations", encode(target));
        let payload = serde_json::json!({ rollee_shared::selftest::SELF_TEST_KEY: true });
        let (status, function_error, body) = self
            .post(
                "lambda",
                &path,
                &[("content-type", "application/json")],
                payload.to_string().into_bytes(),
                timeout,
            )
            .await?;
        if status != 200 {
            return Err(format!(
                "Lambda Invoke answered HTTP {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ));
        }
        Ok(Invoked {
            function_error,
            body,
        })
    }

    /// CodeDeploy's `PutLifecycleEventHookExecutionStatus`.
    pub async fn put_hook_status(
        &self,
        deployment_id: &str,
        execution_id: &str,
        status: &str,
    ) -> Result<(), String> {
        let body = serde_json::json!({
            "deploymentId": deployment_id,
            "lifecycleEventHookExecutionId": execution_id,
            "status": status,
        });
        let (code, _, answer) = self
            .post(
                "codedeploy",
                "/",
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    (
                        "x-amz-target",
                        "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus",
                    ),
                ],
                body.to_string().into_bytes(),
                Duration::from_secs(10),
            )
            .await?;
        if code == 200 {
            Ok(())
        } else {
            Err(format!(
                "CodeDeploy answered HTTP {code}: {}",
                String::from_utf8_lossy(&answer)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ))
        }
    }
}

/// A path label as the SDK writes it: every byte but the unreserved ones percent-encoded.
fn encode(label: &str) -> String {
    label
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_arn_is_one_path_label() {
        assert_eq!(
            super::encode("arn:aws:lambda:eu-west-1:1:function:f:3"),
            "arn%3Aaws%3Alambda%3Aeu-west-1%3A1%3Afunction%3Af%3A3"
        );
    }
}
