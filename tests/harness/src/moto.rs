//! moto's Secrets Manager server (`pip install 'moto[server]'`) on 127.0.0.1,
//! started for a test or a benchmark and stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use rollee_shared::http;
use rollee_shared::rollee::ClientOptions;

pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL`.
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts `moto_server` on a free port and waits until it listens.
    pub fn start() -> Result<Moto, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("moto_server could not start ({e}): pip install 'moto[server]'")
            })?;
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err("moto_server did not listen within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(moto)
    }

    /// The SDK configuration a function in AWS loads (`rollee_shared::aws::loader`),
    /// over `http`, pointed at moto with test credentials.
    pub async fn sdk_config_over(&self, http: reqwest::Client) -> aws_config::SdkConfig {
        rollee_shared::aws::loader(&http)
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }

    /// The same over an HTTP client of its own.
    pub async fn sdk_config(&self) -> Result<aws_config::SdkConfig, String> {
        Ok(self
            .sdk_config_over(http::client(ClientOptions::default().timeouts())?)
            .await)
    }

    /// Stores `value` under `name`: creates the secret, or rotates it to a new value.
    pub async fn put_secret(&self, name: &str, value: &str) -> Result<(), String> {
        let client = self.client().await?;
        let exists = client
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .is_ok();
        if exists {
            client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value)
                .send()
                .await
                .map_err(|e| DisplayErrorContext(&e).to_string())?;
        } else {
            client
                .create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .map_err(|e| DisplayErrorContext(&e).to_string())?;
        }
        Ok(())
    }

    /// A Secrets Manager client, to create and rotate secrets.
    pub async fn client(&self) -> Result<aws_sdk_secretsmanager::Client, String> {
        Ok(aws_sdk_secretsmanager::Client::new(
            &self.sdk_config().await?,
        ))
    }
}
