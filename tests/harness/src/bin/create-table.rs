//! Creates the ownership table on a local DynamoDB (moto's server) for `make
//! dev`, with the key and TTL the functions use. Already there: nothing to do.
//!
//! `AWS_ENDPOINT_URL=http://127.0.0.1:9200 AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… AWS_REGION=… create-table <name>`

use rollee_shared::rollee::ClientOptions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let name = std::env::args()
        .nth(1)
        .ok_or("usage: create-table <table name>")?;
    let http = rollee_shared::http::client(ClientOptions::default().timeouts())?;
    let config = rollee_shared::aws::loader(&http).load().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    if client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .is_ok()
    {
        return Ok(());
    }
    rollee_harness::moto::create_table(&client, &name).await
}
