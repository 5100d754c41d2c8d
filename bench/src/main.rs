//! `cargo run --release -p bench [-- --smoke] [--json PATH] [--skip-build] [--table fast|moto] [--emf-only] [--metrics on|off] [--tls on|off] [--cold-only] [--quota on|off] [--connect-at-init on|table|off]`
//!
//! Builds each function with `cargo lambda build --release`, plus a
//! hello-world `lambda_http` function (the floor), and runs every `bootstrap`
//! the way Lambda does: this process serves the Lambda Runtime API on
//! 127.0.0.1, sets the variables Lambda sets, and the functions read their JWT
//! from moto's Secrets Manager, keep their ownership table in an in-process
//! stand-in (or moto's DynamoDB with `--table moto`, see [`table`]) and call
//! the local Rollee sandbox, all over TLS with a CA made for the run
//! ([`upstreams`]; `--tls off`: plain HTTP). Everything is
//! measured from outside the function process, but for the time of its own
//! calls, which the overhead takes from its metric lines ([`paired`]). A run
//! in which any invocation failed reports no figures and says which failed.
//!
//! - [`settings`]: the command line and the constants of a run;
//! - [`workload`]: the functions, started as Lambda would, and their events;
//! - [`upstreams`]: what the functions call, over TLS or not;
//! - [`measure`]: init, invocations, upstream, concurrency, percentiles;
//! - [`cold`]: cold starts in wall and CPU time, and under a CPU quota;
//! - [`table`]: the in-process stand-in for the ownership table;
//! - [`paired`]: each invocation paired with its own calls (the overhead);
//! - [`webhook`]: the webhook function, measured apart;
//! - [`emf`]: what the metric lines cost (in child processes of this binary);
//! - [`cost`]: what a request costs at AWS's prices;
//! - [`report`]: the tables, the targets and `results.json`.

mod cold;
mod cost;
mod emf;
mod measure;
mod paired;
mod report;
mod settings;
mod table;
mod upstreams;
mod webhook;
mod workload;

use std::sync::Arc;

use rollee_harness::moto::Moto;
use rollee_shared::rollee::{ClientOptions, RolleeClient};
use rollee_shared::store::Store;
use rollee_shared::token::{Jwt, TokenSource};

use measure::{Failures, FunctionResult};
use report::Report;
use settings::{JWT, SECRET, Settings, TABLE, TableChoice};
use table::FastTable;
use upstreams::Upstreams;
use workload::{Env, JwtFrom, Kind, Work};

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
    // Not for the cold starts alone.
    let emf_cost = if settings.cold_only {
        None
    } else {
        Some(emf::measure(processes, requests)?)
    };
    if let (true, Some(emf_cost)) = (settings.emf_only, &emf_cost) {
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

    let upstreams = Upstreams::new(settings.tls)?;
    let moto = Moto::start()?;
    moto.put_secret(SECRET, JWT).await?;
    moto.create_table(TABLE).await?;
    let aws_endpoint = upstreams.expose_url(&moto.endpoint).await?;
    let fast = match settings.table {
        TableChoice::Fast => Some(FastTable::start().await?),
        TableChoice::Moto => None,
    };
    let table_endpoint = match &fast {
        Some(table) => Some(upstreams.expose(table.addr).await?),
        None => None,
    };
    // The sandbox's Connect links name the origin the functions reach it
    // at: the client refuses an http link from an https API.
    let sandbox = Arc::new(upstreams.sandbox(JWT).await?);
    let api_url = sandbox.base_url();
    let client = RolleeClient::with_http(
        api_url.parse()?,
        TokenSource::fixed(Jwt::new(JWT)),
        upstreams.http.clone(),
        ClientOptions::default(),
    );
    // The table as the functions use it, for setting up callers and for the
    // direct (upstream) calls.
    let sdk_config = moto.sdk_config_over(upstreams.http.clone()).await;
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk_config)
        .endpoint_url(table_endpoint.as_deref().unwrap_or(&aws_endpoint));
    let store = Store::new(
        aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
        TABLE,
        10_000,
    );
    let mut vars = upstreams.vars();
    if settings.connect_at_init != "on" {
        vars.push((
            "CONNECT_AT_INIT".to_owned(),
            settings.connect_at_init.to_owned(),
        ));
    }
    let env = Env::new(
        &api_url,
        &aws_endpoint,
        table_endpoint.as_deref(),
        vars,
        settings.metrics,
    );
    let failures = Arc::new(Failures::default());
    let quota = if settings.quota {
        match cold::Quota::create() {
            Ok(quota) => Some(quota),
            Err(why) => {
                eprintln!("bench: cold starts under the CPU quota skipped: {why}");
                None
            }
        }
    } else {
        None
    };
    let quota_note = match &quota {
        Some(q) => format!(
            "quota: the same cold starts in a CPU cgroup, {}",
            q.describe()
        ),
        None if settings.quota => {
            "quota: skipped (no writable cgroup cpu controller, or not root)".to_owned()
        }
        None => "quota: off (--quota off)".to_owned(),
    };

    let mut results = Vec::new();
    let mut colds = Vec::new();
    for kind in Kind::ALL {
        eprintln!("bench: {} …", kind.binary());
        let sub = format!("bench-{}", kind.binary());
        let mut work = Work::new(kind, &client, &store, sub).await?;
        let start = || workload::start(kind, &env, JwtFrom::Secret, &[], false);
        let cold = cold::measure(
            kind.binary(),
            settings.inits,
            None,
            start,
            &mut work,
            &failures,
        )
        .await?;
        let cold_quota = match &quota {
            Some(q) => Some(
                cold::measure(
                    kind.binary(),
                    settings.inits,
                    Some(q),
                    start,
                    &mut work,
                    &failures,
                )
                .await?,
            ),
            None => None,
        };
        colds.push((kind.binary(), cold, cold_quota));
        if settings.cold_only {
            continue;
        }
        let init = measure::init(
            kind,
            &env,
            &upstreams,
            &moto,
            &aws_endpoint,
            settings.inits,
            &failures,
        )
        .await?;
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
    let webhook = match (&fast, &table_endpoint) {
        (Some(table), Some(table_endpoint)) => {
            let hook =
                webhook::Webhook::new(&moto, &upstreams, &aws_endpoint, table_endpoint).await?;
            let cold = hook.cold(settings.inits, None, &failures).await?;
            let cold_quota = match &quota {
                Some(q) => Some(hook.cold(settings.inits, Some(q), &failures).await?),
                None => None,
            };
            colds.push(("webhook", cold, cold_quota));
            if settings.cold_only {
                None
            } else {
                Some(
                    hook.measure(
                        &moto,
                        &upstreams,
                        table,
                        settings.inits,
                        settings.warm,
                        &failures,
                    )
                    .await?,
                )
            }
        }
        // Measured against the stand-ins only: with moto it would measure moto.
        _ => None,
    };
    drop(quota);

    let failed = failures.all();
    if !failed.is_empty() {
        report::failures(&failed);
        return Ok(false);
    }

    let warm_p50 = |name: &str| {
        results
            .iter()
            .find(|r| r.kind.binary() == name)
            .map(|r| measure::percentile(&r.serial.warm, 0.5))
            .or_else(|| {
                webhook
                    .as_ref()
                    .filter(|_| name == "webhook")
                    .map(|w| measure::percentile(&w.warm, 0.5))
            })
            .map(|d| d.as_secs_f64() * 1000.0)
    };
    let rows: Vec<_> = colds
        .iter()
        .map(|(name, cold, quota)| (*name, cold, quota.as_ref(), warm_p50(name)))
        .collect();
    let transport = if settings.tls {
        "upstreams over TLS (the run's CA through AWS_CA_BUNDLE)"
    } else {
        "upstreams over plain HTTP (--tls off)"
    };
    let cold_table = format!("{}{transport}\n", cold::table(&rows, &quota_note));
    let cold_json: Vec<serde_json::Value> = colds
        .iter()
        .map(|(name, cold, quota)| {
            serde_json::json!({
                "function": name,
                "whole_core": cold.json(),
                "quota": quota.as_ref().map(cold::Cold::json),
            })
        })
        .collect();
    let Some(emf_cost) = emf_cost else {
        println!("{cold_table}");
        let value = serde_json::json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "tls": settings.tls,
            "cold": cold_json,
            "table": cold_table,
        });
        if let Some(dir) = settings.json.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&settings.json, serde_json::to_string_pretty(&value)? + "\n")?;
        eprintln!("bench: wrote {}", settings.json.display());
        return Ok(true);
    };

    let report = Report::new(&settings, &results);
    let webhook_table = webhook.as_ref().map(|w| w.table()).unwrap_or_default();
    let requests = cost::requests(&results, webhook.as_ref());
    let cost_table = if requests.is_empty() {
        "What a request costs: not counted (the table's units need the in-process table, the overhead the metric lines)\n".to_owned()
    } else {
        cost::table(&requests)
    };
    let table = format!(
        "{}\n{cold_table}\n{}\n{webhook_table}\n{cost_table}",
        report.table(),
        emf_cost.table()
    );
    println!("{table}");
    let mut extra = serde_json::json!({
        "emf": emf_cost.json(),
        "cost": cost::json(&requests),
        "cold": cold_json,
        "tls": settings.tls,
    });
    if let Some(w) = &webhook {
        extra["webhook"] = w.json();
    }
    report.write_json(&settings.json, &table, extra)?;
    eprintln!("bench: wrote {}", settings.json.display());
    Ok(true)
}
