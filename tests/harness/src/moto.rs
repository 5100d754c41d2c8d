//! moto's server (`pip install 'moto[server]'`) on 127.0.0.1, standing in for
//! Secrets Manager and DynamoDB; started for a test or a benchmark, stopped
//! when dropped or when the process that started it exits.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use rollee_shared::http;
use rollee_shared::rollee::ClientOptions;

/// The rotation function moto is told about (it never runs it).
pub const ROTATION_FUNCTION_ARN: &str =
    "arn:aws:lambda:eu-west-1:123456789012:function:rotate-token";

pub struct Moto {
    /// A watchdog around `moto_server` that stops it when this pipe closes:
    /// when the Moto is dropped, or the process holding it exits in any way.
    child: Child,
    pipe: Option<ChildStdin>,
    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL`.
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        drop(self.pipe.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `moto_server` until its standard input closes, then stops it.
const WATCHDOG: &str = "import subprocess, sys\n\
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n\
sys.stdin.read()\n\
p.terminate()\n\
p.wait()\n";

/// What to do when moto's server is not there.
const MISSING: &str = "moto's server (moto_server) is not on PATH: run `make tools`, then put .venv/dev/bin on PATH (make test does both)";

impl Moto {
    /// Whether the server's process has ended already.
    fn child_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Starts `moto_server` on a free port and waits until it listens.
    pub fn start() -> Result<Moto, String> {
        let on_path = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| dir.join("moto_server").is_file())
        });
        if !on_path {
            return Err(MISSING.to_owned());
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let mut child = Command::new("python3")
            .args([
                "-c",
                WATCHDOG,
                "moto_server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("python3 could not start ({e})"))?;
        let pipe = child.stdin.take();
        let mut moto = Moto {
            child,
            pipe,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if moto.child_exited() {
                return Err(format!("moto_server exited at start. {MISSING}"));
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(
                    "moto_server did not listen within 30 s (is it installed? pip install 'moto[server]')"
                        .into(),
                );
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

    /// Starts a rotation of `secret` the way Secrets Manager does before it
    /// invokes the rotation function's `createSecret`: rotation enabled, and
    /// a new, empty version staged AWSPENDING. Returns that version's id, the
    /// `ClientRequestToken` of the four steps.
    ///
    /// moto 5.2.5 cannot invoke a rotation function without Docker. Its
    /// RotateSecret given a function ARN enables rotation and stages the empty
    /// version, then fails to find the function, an error expected here
    /// (without an ARN it would move AWSCURRENT to the empty version at once).
    /// The state it leaves is checked, not trusted.
    pub async fn start_rotation(&self, secret: &str) -> Result<String, String> {
        use aws_sdk_secretsmanager::types::RotationRulesType;
        let client = self.client().await?;
        let token = uuid::Uuid::new_v4().to_string();
        let started = client
            .rotate_secret()
            .secret_id(secret)
            .client_request_token(&token)
            .rotation_lambda_arn(ROTATION_FUNCTION_ARN)
            .rotation_rules(
                RotationRulesType::builder()
                    .automatically_after_days(7)
                    .build(),
            )
            .send()
            .await;
        if let Err(e) = started {
            let e = DisplayErrorContext(&e).to_string();
            if !e.contains("Resource not found for ARN") {
                return Err(format!("RotateSecret: {e}"));
            }
        }
        let described = client
            .describe_secret()
            .secret_id(secret)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(&e).to_string())?;
        let stages = described
            .version_ids_to_stages()
            .and_then(|v| v.get(&token))
            .cloned()
            .unwrap_or_default();
        if described.rotation_enabled() != Some(true) || stages != ["AWSPENDING"] {
            return Err(format!(
                "moto left another state than Secrets Manager's at the start of a rotation: enabled {:?}, version {token} staged {stages:?}",
                described.rotation_enabled()
            ));
        }
        Ok(token)
    }

    /// A Secrets Manager client, to create and rotate secrets.
    pub async fn client(&self) -> Result<aws_sdk_secretsmanager::Client, String> {
        Ok(aws_sdk_secretsmanager::Client::new(
            &self.sdk_config().await?,
        ))
    }

    /// Creates the ownership table `name` with the key and TTL the functions
    /// use (the template's table has the same; a test checks it).
    pub async fn create_table(&self, name: &str) -> Result<(), String> {
        create_table(
            &aws_sdk_dynamodb::Client::new(&self.sdk_config().await?),
            name,
        )
        .await
    }
}

/// Creates the ownership table `name` (on-demand, key `pk`, TTL
/// `expires_at`, index `by-user` on `user_id`, keys only), as the template does.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
    };
    use rollee_shared::store::{KEY, TTL, USER_ATTRIBUTE, USER_INDEX};
    let error = |e: &dyn std::fmt::Display| format!("creating table {name}: {e}");
    let hash = |attribute: &str| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(KeyType::Hash)
            .build()
            .map_err(|e| error(&e))
    };
    let string = |attribute: &str| {
        AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| error(&e))
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(USER_INDEX)
        .key_schema(hash(USER_ATTRIBUTE)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()
        .map_err(|e| error(&e))?;
    client
        .create_table()
        .table_name(name)
        .key_schema(hash(KEY)?)
        .attribute_definitions(string(KEY)?)
        .attribute_definitions(string(USER_ATTRIBUTE)?)
        .global_secondary_indexes(index)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| error(&aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(TTL)
        .enabled(true)
        .build()
        .map_err(|e| error(&e))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| error(&aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
    Ok(())
}
