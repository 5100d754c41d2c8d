//! `cargo run --release -p bench [-- --smoke] [--json PATH] [--skip-build] [--table fast|moto] [--emf-only] [--metrics on|off]`
//!
//! Builds each function with `cargo lambda build --release`, plus a
//! hello-world `lambda_http` function (the floor), and runs every `bootstrap`
//! the way Lambda does: this process serves the Lambda Runtime API on
//! 127.0.0.1, sets the variables Lambda sets, and the functions read their JWT
//! from moto's Secrets Manager, keep their ownership table in an in-process
//! stand-in (or moto's DynamoDB with `--table moto`, see [`table`]) and call
//! the local Rollee sandbox. Everything is
//! measured from outside the function process, but for the time of its own
//! calls, which the overhead takes from its metric lines ([`paired`]). A run
//! in which any invocation failed reports no figures and says which failed.
//!
//! - [`settings`]: the command line and the constants of a run;
//! - [`workload`]: the functions, started as Lambda would, and their events;
//! - [`measure`]: init, invocations, upstream, concurrency, percentiles;
//! - [`table`]: the in-process stand-in for the ownership table;
//! - [`paired`]: each invocation paired with its own calls (the overhead);
//! - [`webhook`]: the webhook function, measured apart;
//! - [`emf`]: what the metric lines cost (in child processes of this binary);
//! - [`cost`]: what a request costs at AWS's prices;
//! - [`report`]: the tables, the targets and `results.json`.

mod cost;
mod emf;
mod measure;
mod paired;
mod report;
mod settings;
mod table;
mod webhook;
mod workload;

use std::sync::Arc;

use rollee_harness::moto::Moto;
use rollee_sandbox::Sandbox;
use rollee_shared::rollee::{ClientOptions, RolleeClient};
use rollee_shared::store::Store;
use rollee_shared::token::{Jwt, TokenSource};

use measure::{Failures, FunctionResult};
use report::Report;
use settings::{JWT, SECRET, Settings, TABLE, TableChoice};
use table::FastTable;
use workload::{Env, Kind, Work};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--emf-child") {
        let requests = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1);
        emf::child(requests).await;
        return;
    }
    match run().await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    }
}

/// `Ok(false)`: some invocation failed, and the run reports no figures.
async fn run() -> Result<bool, Error> {
    let settings = Settings::from_args()?;
    let (processes, requests) = if settings.smoke {
        (3, 200)
    } else {
        (20, 10_000)
    };
    let emf_cost = emf::measure(processes, requests)?;
    if settings.emf_only {
        println!("{}", emf_cost.table());
        return Ok(true);
    }
    if settings.build {
        for kind in Kind::ALL {
            workload::build(kind)?;
        }
        webhook::build()?;
    }
    workload::check_built()?;

    let moto = Moto::start()?;
    moto.put_secret(SECRET, JWT).await?;
    moto.create_table(TABLE).await?;
    let fast = match settings.table {
        TableChoice::Fast => Some(FastTable::start().await?),
        TableChoice::Moto => None,
    };
    let table_endpoint = fast.as_ref().map(FastTable::endpoint);
    let sandbox = Arc::new(Sandbox::start(JWT).await?);
    let client = RolleeClient::new(
        sandbox.base_url().parse()?,
        TokenSource::fixed(Jwt::new(JWT)),
        ClientOptions::default(),
    )?;
    // The table as the functions use it, for setting up callers and for the
    // direct (upstream) calls.
    let sdk_config = moto.sdk_config().await?;
    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk_config);
    if let Some(endpoint) = &table_endpoint {
        dynamodb = dynamodb.endpoint_url(endpoint);
    }
    let store = Store::new(
        aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
        TABLE,
        10_000,
    );
    let env = Env::new(&sandbox, &moto, table_endpoint.as_deref(), settings.metrics);
    let failures = Arc::new(Failures::default());

    let mut results = Vec::new();
    for kind in Kind::ALL {
        eprintln!("bench: {} …", kind.binary());
        let sub = format!("bench-{}", kind.binary());
        let mut work = Work::new(kind, &client, &store, sub).await?;
        let init = measure::init(kind, &env, &moto, settings.inits, &failures).await?;
        let serial = measure::invocations(
            kind,
            &env,
            settings.warm,
            &mut work,
            fast.as_ref(),
            &failures,
        )
        .await?;
        let (upstream, table) =
            measure::upstream(kind, &client, &store, settings.warm, &mut work, &failures).await;
        let concurrency = measure::concurrency(
            kind,
            &env,
            &client,
            &store,
            &sandbox,
            settings.concurrency_for,
            &failures,
        )
        .await?;
        results.push(FunctionResult {
            kind,
            size: std::fs::metadata(workload::bootstrap(kind))?.len(),
            init,
            serial,
            upstream,
            table,
            concurrency,
        });
    }

    eprintln!("bench: webhook …");
    let webhook = match &fast {
        Some(table) => {
            Some(webhook::measure(&moto, table, settings.inits, settings.warm, &failures).await?)
        }
        // Measured against the stand-ins only: with moto it would measure moto.
        None => None,
    };

    let failed = failures.all();
    if !failed.is_empty() {
        report::failures(&failed);
        return Ok(false);
    }

    let report = Report::new(&settings, &results);
    let webhook_table = webhook.as_ref().map(|w| w.table()).unwrap_or_default();
    let requests = cost::requests(&results, webhook.as_ref());
    let cost_table = if requests.is_empty() {
        "What a request costs: not counted (the table's units need the in-process table, the overhead the metric lines)\n".to_owned()
    } else {
        cost::table(&requests)
    };
    let table = format!(
        "{}\n{}\n{webhook_table}\n{cost_table}",
        report.table(),
        emf_cost.table()
    );
    println!("{table}");
    let mut extra = serde_json::json!({ "emf": emf_cost.json(), "cost": cost::json(&requests) });
    if let Some(w) = &webhook {
        extra["webhook"] = w.json();
    }
    report.write_json(&settings.json, &table, extra)?;
    eprintln!("bench: wrote {}", settings.json.display());
    Ok(true)
}
