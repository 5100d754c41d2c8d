//! `make dev`'s event bus on moto: `dev-bus create <bus>` makes the bus the
//! webhook function publishes to, with a rule that copies every event to an
//! SQS queue; `dev-bus take <bus> [<detail-type>]` prints the events in that
//! queue, one JSON line each, and removes them (`make dev-events`).
//!
//! `take` waits for events: up to 60 s for one of `<detail-type>` when given,
//! else until the queue has been quiet for 2 s after the first event (or 60 s
//! without any).
//!
//! `AWS_ENDPOINT_URL=http://127.0.0.1:9200 AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… AWS_REGION=… dev-bus create rollee-connect-local`

use std::time::{Duration, Instant};

use rollee_shared::rollee::ClientOptions;

const USAGE: &str = "usage: dev-bus create <bus> | dev-bus take <bus> [<detail-type>]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, name, until) = match args.as_slice() {
        [command, name] => (command.as_str(), name.as_str(), None),
        [command, name, until] => (command.as_str(), name.as_str(), Some(until.as_str())),
        _ => return Err(USAGE.into()),
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .map_err(|_| "AWS_ENDPOINT_URL must name moto's server".to_owned())?;
    let http = rollee_shared::http::client(ClientOptions::default().timeouts())?;
    let config = rollee_shared::aws::loader(&http).load().await;
    let bus = rollee_harness::bus::create(&config, &endpoint, name).await?;
    match command {
        "create" => Ok(()),
        "take" => {
            let started = Instant::now();
            let mut last_seen: Option<Instant> = None;
            loop {
                for event in bus.take().await? {
                    println!("{event}");
                    last_seen = Some(Instant::now());
                    if until.is_some_and(|t| event["detail-type"] == t) {
                        return Ok(());
                    }
                }
                let quiet = until.is_none()
                    && last_seen.is_some_and(|at| at.elapsed() > Duration::from_secs(2));
                if quiet {
                    return Ok(());
                }
                if started.elapsed() > Duration::from_secs(60) {
                    return match until {
                        Some(t) => Err(format!("no {t} event on bus {name} within 60 s")),
                        None => Ok(()),
                    };
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        _ => Err(USAGE.into()),
    }
}
