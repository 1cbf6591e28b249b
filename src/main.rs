use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;
use std::time::SystemTime;
use userkeeper::aws::{Secrets, SelfInvoke};
use userkeeper::cfn::{Invocation, Provider, responder::Responder};
use userkeeper::dispatch::Dispatcher;
use userkeeper::login::Login;
use userkeeper::rotation::{Rotation, Rotators};
use userkeeper::services::{Registry, Shared};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    userkeeper::logging::init();

    // Configuration and clients are built once per execution environment, not per event.
    // Throttling and 5xx storms are retried with the SDK's jittered exponential backoff (full
    // jitter, capped at 5 s); far more attempts than its default 3, because a stack creating
    // many users, or hundreds of rotations fired together, meets throttling in bursts: the load
    // test (tools/load.py) lost requests at 6 attempts with 20 % and 40 % of calls throttled.
    // Retries never outlast the request: every operation and rotation step is cut at its
    // deadline, which answers (or continues) naming what it was waiting for. Not the SDK's
    // adaptive mode: it is experimental, and its client-side rate limit is per process, while
    // Lambda runs one request per process (`AWS_MAX_ATTEMPTS` overrides).
    let attempts = std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let sdk = aws_config::from_env()
        .http_client(userkeeper::aws::http::client()?)
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_max_backoff(std::time::Duration::from_secs(5)),
        )
        .load()
        .await;
    let secrets = Secrets::new(aws_sdk_secretsmanager::Client::new(&sdk));
    let continuer = SelfInvoke::new(aws_sdk_lambda::Client::new(&sdk));
    let login = Arc::new(Login::from_env());
    let mut provider = Provider::new(Responder::new()?).with_continuer(Arc::new(continuer));
    let mut rotators = Rotators::default();
    userkeeper::services::register_all(
        &mut Registry {
            provider: &mut provider,
            rotators: &mut rotators,
        },
        &Shared {
            sdk: &sdk,
            secrets: &secrets,
            login: &login,
        },
    );
    let dispatcher = &Dispatcher::new(provider, Rotation::new(secrets, rotators));

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let left = userkeeper::dispatch::time_left(event.context.deadline, SystemTime::now());
        let invocation = Invocation {
            deadline: tokio::time::Instant::now() + left,
            function_arn: Some(event.context.invoked_function_arn)
                .filter(|a| a.starts_with("arn:")),
        };
        dispatcher.handle(event.payload, &invocation).await
    }))
    .await
}
