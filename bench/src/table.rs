//! The ownership table the functions are measured against.
//!
//! moto's DynamoDB (a Python server) takes milliseconds per call, so with it
//! the figures measure moto. By default the functions get instead a minimal
//! in-process stand-in that speaks DynamoDB's JSON protocol for the five item
//! operations they use and answers in microseconds: what is left is our side
//! (the SDK, the HTTP round trip, the handler). It stores items and ignores
//! condition expressions, which is enough for the benchmark's requests (all
//! of them succeed on a correct table too); it is no model of DynamoDB and is
//! used nowhere else. `--table moto` measures with moto instead.
//!
//! It also says what each request would be billed on an on-demand table
//! ([`Units`]), from the request and the items it stores: what a request of
//! the functions costs in DynamoDB is counted from their real calls.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Request units an on-demand table bills for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    /// Read request units: an item read, per 4 KB started, is 1 strongly
    /// consistent, 0.5 eventually consistent (an absent item as a small one).
    pub read: f64,
    /// Write request units: an item written, per 1 KB started (the larger of
    /// the item before and after), is 1; inside a transaction, 2.
    pub write: f64,
}

impl std::ops::AddAssign for Units {
    fn add_assign(&mut self, other: Units) {
        self.read += other.read;
        self.write += other.write;
    }
}

/// An item's size as DynamoDB counts it (attribute names and values), here
/// an upper bound: a number counted as its digits + 1 (DynamoDB: about half
/// that), anything but a string or a number as its JSON.
fn item_size(item: &Value) -> usize {
    item.as_object().map_or(0, |attributes| {
        attributes
            .iter()
            .map(|(name, value)| {
                name.len()
                    + match (value.get("S"), value.get("N")) {
                        (Some(Value::String(s)), _) => s.len(),
                        (_, Some(Value::String(n))) => n.len() + 1,
                        _ => value.to_string().len(),
                    }
            })
            .sum()
    })
}

/// An update or delete, not applied: billed as the item it touches, or the
/// key and the values it writes when that is not stored.
fn update_units(items: &Items, request: &Value) -> f64 {
    let written = item_size(&request["Key"]) + item_size(&request["ExpressionAttributeValues"]);
    units_of(items.size_of(&request["Key"]).max(written), 1024)
}

fn units_of(size: usize, per: usize) -> f64 {
    size.div_ceil(per).max(1) as f64
}

#[derive(Default)]
struct Items {
    items: Mutex<HashMap<String, Value>>,
    /// When each request arrived, and its units.
    billed: Mutex<Vec<(Instant, Units)>>,
}

impl Items {
    fn key(item_or_key: &Value) -> String {
        item_or_key["pk"]["S"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn size_of(&self, key: &Value) -> usize {
        let items = self.items.lock().expect("no panic while holding the items");
        items.get(&Self::key(key)).map_or(0, item_size)
    }

    /// Stores `item`; its write units (the larger of the old and new item).
    fn put(&self, item: &Value) -> f64 {
        let mut items = self.items.lock().expect("no panic while holding the items");
        let old = items.insert(Self::key(item), item.clone());
        units_of(item_size(item).max(old.as_ref().map_or(0, item_size)), 1024)
    }
}

/// A running stand-in on 127.0.0.1; stops when dropped.
pub struct FastTable {
    pub addr: SocketAddr,
    items: Arc<Items>,
    task: JoinHandle<()>,
}

impl Drop for FastTable {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FastTable {
    pub async fn start() -> std::io::Result<FastTable> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let items = Arc::new(Items::default());
        let task = rollee_sandbox::spawn_server(listener, items.clone(), handle);
        Ok(FastTable { addr, items, task })
    }

    /// The units of the requests that arrived inside each window.
    pub fn units_within(&self, windows: &[(Instant, Instant)]) -> Vec<Units> {
        let billed = self
            .items
            .billed
            .lock()
            .expect("no panic while holding the log");
        windows
            .iter()
            .map(|(from, to)| {
                let mut units = Units::default();
                for (_, u) in billed.iter().filter(|(at, _)| from <= at && at <= to) {
                    units += *u;
                }
                units
            })
            .collect()
    }
}

async fn handle(
    items: Arc<Items>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let arrived = Instant::now();
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
        .unwrap_or_default()
        .to_owned();
    let body = request.into_body().collect().await?.to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut units = Units::default();
    let answer = match operation.as_str() {
        "GetItem" => {
            let consistent = body["ConsistentRead"] == Value::Bool(true);
            units.read = units_of(items.size_of(&body["Key"]), 4096);
            if !consistent {
                units.read /= 2.0;
            }
            let stored = items
                .items
                .lock()
                .expect("no panic while holding the items");
            match stored.get(&Items::key(&body["Key"])) {
                Some(item) => json!({ "Item": item }),
                None => json!({}),
            }
        }
        "PutItem" => {
            units.write = items.put(&body["Item"]);
            json!({})
        }
        // Each item of a transaction bills twice its write units; a
        // condition check too (DynamoDB's rule), as the item it reads.
        "TransactWriteItems" => {
            for write in body["TransactItems"].as_array().into_iter().flatten() {
                units.write += 2.0
                    * match (
                        write.get("Put"),
                        write.get("Update"),
                        write.get("ConditionCheck"),
                    ) {
                        (Some(put), _, _) => items.put(&put["Item"]),
                        (_, Some(update), _) => update_units(&items, update),
                        (_, _, Some(check)) => units_of(items.size_of(&check["Key"]), 1024),
                        _ => 0.0,
                    };
            }
            json!({})
        }
        // Not applied (see above).
        "UpdateItem" | "DeleteItem" => {
            units.write = update_units(&items, &body);
            json!({})
        }
        _ => json!({"__type": "UnknownOperationException"}),
    };
    items
        .billed
        .lock()
        .expect("no panic while holding the log")
        .push((arrived, units));
    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    Ok(response)
}
