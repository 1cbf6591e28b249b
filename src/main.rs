use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;
use std::time::SystemTime;
use userkeeper::aws::{Lazy, Secrets, SelfInvoke};
use userkeeper::cfn::{Invocation, Provider, responder::Responder};
use userkeeper::dispatch::Dispatcher;
use userkeeper::login::Login;
use userkeeper::rotation::{Rotation, Rotators};
use userkeeper::services::{Registry, Shared};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    userkeeper::logging::init();

    // Configuration and clients are built once per execution environment, not per event;
    // each SDK client at its first use (`aws::Lazy`).
    let sdk = userkeeper::aws::config().await?;
    let secrets = Secrets::new(Lazy::client(&sdk, aws_sdk_secretsmanager::Client::new));
    let continuer = SelfInvoke::new(Lazy::client(&sdk, aws_sdk_lambda::Client::new));
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
