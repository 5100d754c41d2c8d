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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Default)]
struct Items(Mutex<HashMap<String, Value>>);

impl Items {
    fn key(item_or_key: &Value) -> String {
        item_or_key["pk"]["S"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn put(&self, item: &Value) {
        let mut items = self.0.lock().expect("no panic while holding the items");
        items.insert(Self::key(item), item.clone());
    }
}

/// A running stand-in on 127.0.0.1; stops when dropped.
pub struct FastTable {
    pub addr: SocketAddr,
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
        let task = rollee_sandbox::spawn_server(listener, Arc::new(Items::default()), handle);
        Ok(FastTable { addr, task })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn handle(
    items: Arc<Items>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
        .unwrap_or_default()
        .to_owned();
    let body = request.into_body().collect().await?.to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = match operation.as_str() {
        "GetItem" => {
            let items = items.0.lock().expect("no panic while holding the items");
            match items.get(&Items::key(&body["Key"])) {
                Some(item) => json!({ "Item": item }),
                None => json!({}),
            }
        }
        "PutItem" => {
            items.put(&body["Item"]);
            json!({})
        }
        "TransactWriteItems" => {
            for write in body["TransactItems"].as_array().into_iter().flatten() {
                items.put(&write["Put"]["Item"]);
            }
            json!({})
        }
        "UpdateItem" | "DeleteItem" => json!({}),
        _ => json!({"__type": "UnknownOperationException"}),
    };
    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    Ok(response)
}
