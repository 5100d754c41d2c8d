//! The Connect routes' state: built once per process from the configuration
//! (the Rollee client with its JWT, the ownership table, the bus when the
//! function publishes), and what its self-test checks.

use std::sync::Arc;
use std::time::Instant;

use lambda_http::Request;

use super::connect;
use crate::bus::Bus;
use crate::config::{Config, ConfigError};
use crate::http;
use crate::problem::ApiError;
use crate::request::{self, Caller};
use crate::rollee::{ClientOptions, RolleeClient};
use crate::selftest::{self, Report, SelfTest};
use crate::store::Store;
use crate::token::{TokenError, TokenSource};

/// Built once per process and shared by every invocation. `T` is the
/// ownership table: DynamoDB ([`Store`]) when deployed, or in memory
/// ([`crate::store::MemoryTable`]) in unit tests.
#[derive(Debug)]
pub struct State<T = Store> {
    pub client: RolleeClient,
    pub store: T,
    /// The bus, when the function publishes ([`Config::event_bus`]).
    pub bus: Option<Bus>,
    dev_caller: Option<Arc<str>>,
    /// The function's name, in its self-test's report.
    function: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("{0}")]
    Client(String),
}

impl<T> State<T> {
    /// A state over `client` and `store`, with no bus; `dev_caller`: the
    /// caller of requests without claims (local development and tests).
    pub fn new(client: RolleeClient, store: T, dev_caller: Option<&str>) -> Self {
        Self {
            client,
            store,
            bus: None,
            dev_caller: dev_caller.map(Arc::from),
            function: "rollee-connect",
        }
    }

    /// The caller of `request`, or 401.
    pub fn caller(&self, request: &Request) -> Result<Caller, ApiError> {
        request::caller(request, self.dev_caller.as_deref())
    }
}

impl State {
    /// Builds the state from a checked configuration; reads the JWT now,
    /// and meanwhile opens the table's and Rollee's connections
    /// ([`connect`]) as `connect_at_init` says. `sdk_config` is loaded over the process's
    /// HTTP client.
    pub async fn build<F, Fut>(
        config: &Config,
        options: ClientOptions,
        sdk_config: F,
    ) -> Result<Self, StartupError>
    where
        F: FnOnce(&reqwest::Client) -> Fut,
        Fut: Future<Output = aws_config::SdkConfig>,
    {
        let http = http::client(options.timeouts()).map_err(StartupError::Client)?;
        let sdk_config = sdk_config(&http).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
        let (tokens, (), ()) = tokio::join!(
            TokenSource::load(&config.token, config.token_policy, &sdk_config),
            async {
                if config.connect_at_init.table() {
                    connect::table(&dynamodb, &config.table, connect::PROBE_KEY).await;
                }
            },
            async {
                if config.connect_at_init.rollee() {
                    connect::rollee(&http, &config.api_url).await;
                }
            },
        );
        let tokens = tokens?;
        let store = Store::new(dynamodb, config.table.clone(), config.sessions_per_minute);
        let bus = config
            .event_bus
            .as_ref()
            .map(|name| Bus::new(&sdk_config, name.clone()));
        let client = RolleeClient::with_http(config.api_url.clone(), tokens, http, options);
        if let Some(sub) = &config.dev_caller_sub {
            tracing::warn!(
                dev_caller_sub = %sub,
                "DEV_CALLER_SUB is set: requests without authorizer claims act as this caller (local development only)"
            );
        }
        Ok(Self {
            client,
            store,
            bus,
            dev_caller: config.dev_caller_sub.as_deref().map(Arc::from),
            function: "rollee-connect",
        })
    }

    /// Names the function in its self-test's report.
    pub fn named(mut self, function: &'static str) -> Self {
        self.function = function;
        self
    }
}

/// A Connect function depends on the Rollee JWT secret, Rollee accepting
/// the JWT, and the ownership table.
impl SelfTest for State {
    async fn self_test(&self) -> Report {
        let started = Instant::now();
        let mut checks = selftest::secret_and_days(self.client.tokens()).await;
        checks.push(selftest::rollee(&self.client).await);
        checks.push(selftest::table(&self.store).await);
        if let Some(bus) = &self.bus {
            checks.push(selftest::check("bus", bus.describe()).await);
        }
        Report::new(self.function, started, checks)
    }
}
