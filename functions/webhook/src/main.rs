fn main() -> Result<(), rollee_shared::lambda_http::Error> {
    rollee_shared::app::serve_with(
        rollee_shared::webhook::init_from_env,
        rollee_shared::webhook::handle,
    )
}

#[cfg(test)]
mod tests {
    use rollee_shared::lambda_http::http::Request as HttpRequest;
    use rollee_shared::lambda_http::{Body, Request};
    use rollee_shared::webhook::auth::{Credentials, DEFAULT_HEADER};
    use rollee_shared::webhook::config::WebhookConfig;
    use rollee_shared::webhook::{Receiver, handle};

    const SECRET: &str = "a-local-webhook-secret-for-unit-tests-only";

    /// A receiver whose table and bus nobody answers for: what is refused
    /// before them is all these tests reach.
    async fn receiver() -> Receiver {
        let config = WebhookConfig::from_lookup(|name| match name {
            "OWNERSHIP_TABLE" => Some("table".into()),
            "EVENT_BUS_NAME" => Some("bus".into()),
            "WEBHOOK_SECRET" => Some(SECRET.into()),
            _ => None,
        })
        .unwrap();
        let sdk = aws_config::SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:9")
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::for_tests(),
                ),
            )
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        Receiver::build(&config, &sdk).await.unwrap()
    }

    fn delivery(header: Option<&str>, body: &str) -> Request {
        let mut builder = HttpRequest::builder()
            .method("POST")
            .uri("https://api.example.com/webhooks/rollee");
        if let Some(value) = header {
            builder = builder.header(DEFAULT_HEADER, value);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    #[tokio::test]
    async fn a_delivery_without_the_header_or_that_is_no_event_is_refused_before_the_table() {
        let receiver = receiver().await;
        let refused = handle(&receiver, &delivery(None, r#"{"action":"create_user"}"#)).await;
        assert_eq!(refused.unwrap_err().status(), 401);
        let wrong = handle(
            &receiver,
            &delivery(Some("nope"), r#"{"action":"create_user"}"#),
        )
        .await;
        assert_eq!(wrong.unwrap_err().status(), 401);
        let value = Credentials::derive(SECRET)
            .unwrap()
            .header_value()
            .to_owned();
        let not_json = handle(&receiver, &delivery(Some(&value), "not json")).await;
        assert_eq!(not_json.unwrap_err().status(), 400);
        // Authenticated and an event: now the table is needed, and it is down.
        let event = handle(
            &receiver,
            &delivery(Some(&value), r#"{"action":"create_user"}"#),
        )
        .await;
        assert_eq!(event.unwrap_err().status(), 503);
    }
}
