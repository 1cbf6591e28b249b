//! Amazon MQ error variants that no emulator produces on demand: a conflict with a user
//! someone else owns, a broker that is missing or runs RabbitMQ, throttling, a user this stack
//! does not own, and a broker in the middle of a reboot.
//!
//! `mq::User` is built only by `services::register_all`, from an `SdkConfig`; an `SdkConfig`
//! carries no interceptors, so aws-smithy-mocks' rules cannot reach it. Amazon MQ is played
//! instead by `FakeMq`, the config's HTTP client: it answers each REST call from a script, on
//! the wire (restJson1 bodies and `x-amzn-ErrorType` codes, so the SDK's own error parsing and
//! retry classification run), and records the calls made. The events go through the
//! `Provider`, and each test reads the response it PUT to the ResponseURL.

mod support;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_mq::config::retry::RetryConfig;
use aws_sdk_mq::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_mocks::{Rule, mock_client};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;
use userkeeper::aws::Secrets;
use userkeeper::cfn::Provider;
use userkeeper::cfn::responder::Responder;
use userkeeper::login::Login;
use userkeeper::rotation::Rotators;
use userkeeper::services::{Registry, Shared, register_all};

const TYPE: &str = "Custom::AmazonMQUser";
const BROKER: &str = "b-1234";
const BROKER_ARN: &str = "arn:aws:mq:us-east-1:123456789012:broker:orders:b-1234";
const OWNER_TAG: &str = "userkeeper:user:app";
/// This stack's owner part of the tag value: the stack id's GUID and the logical id (see
/// `support::event`).
const OURS: &str = "guid/AppUser";
const PASSWORD: &str = "Twelve-chars-ok";

/// One scripted answer.
#[derive(Clone, Debug)]
enum Reply {
    Ok(Value),
    /// HTTP status and error code.
    Err(u16, &'static str),
}

#[derive(Clone, Debug)]
struct Call {
    op: &'static str,
    body: String,
}

#[derive(Debug, Default)]
struct State {
    /// Per operation, the answers in order; the last one repeats.
    script: HashMap<&'static str, Vec<Reply>>,
    served: HashMap<&'static str, usize>,
    calls: Vec<Call>,
}

/// Amazon MQ's REST API, scripted. An operation without a script answers 400
/// `UnexpectedCall`, which nothing retries and every assertion on the calls shows.
#[derive(Clone, Debug, Default)]
struct FakeMq(Arc<Mutex<State>>);

impl FakeMq {
    fn on(self, op: &'static str, replies: impl IntoIterator<Item = Reply>) -> Self {
        let replies: Vec<Reply> = replies.into_iter().collect();
        assert!(!replies.is_empty(), "{op}: empty script");
        self.0.lock().unwrap().script.insert(op, replies);
        self
    }

    /// The operations called, in order, each attempt of a retried call included.
    fn ops(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().calls.iter().map(|c| c.op).collect()
    }

    fn count(&self, op: &str) -> usize {
        self.ops().iter().filter(|o| **o == op).count()
    }

    /// The JSON bodies sent to `op`.
    fn bodies(&self, op: &str) -> Vec<Value> {
        let state = self.0.lock().unwrap();
        state
            .calls
            .iter()
            .filter(|c| c.op == op)
            .map(|c| serde_json::from_str(&c.body).unwrap_or(Value::Null))
            .collect()
    }

    fn answer(&self, request: &HttpRequest) -> HttpResponse {
        let op = operation(request.method(), request.uri());
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let mut state = self.0.lock().unwrap();
        state.calls.push(Call { op, body });
        let n = *state.served.entry(op).and_modify(|n| *n += 1).or_insert(0);
        let reply = match state.script.get(op) {
            Some(replies) => replies[n.min(replies.len() - 1)].clone(),
            None => Reply::Err(400, "UnexpectedCall"),
        };
        let (status, body, code) = match reply {
            Reply::Ok(v) => (200, v.to_string(), None),
            Reply::Err(status, code) => (
                status,
                json!({"message": format!("{code} from FakeMq")}).to_string(),
                Some(code),
            ),
        };
        let mut response =
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
        response
            .headers_mut()
            .insert("content-type", "application/json");
        if let Some(code) = code {
            response.headers_mut().insert("x-amzn-ErrorType", code);
        }
        response
    }
}

/// The MQ operation a REST call is.
fn operation(method: &str, uri: &str) -> &'static str {
    let path = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let path = path.find('/').map_or("", |i| &path[i..]);
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["v1", "brokers", _]) => "DescribeBroker",
        ("POST", ["v1", "brokers", _, "reboot"]) => "RebootBroker",
        ("GET", ["v1", "brokers", _, "users", _]) => "DescribeUser",
        ("POST", ["v1", "brokers", _, "users", _]) => "CreateUser",
        ("PUT", ["v1", "brokers", _, "users", _]) => "UpdateUser",
        ("DELETE", ["v1", "brokers", _, "users", _]) => "DeleteUser",
        ("GET", ["v1", "tags", _]) => "ListTags",
        ("POST", ["v1", "tags", _]) => "CreateTags",
        ("DELETE", ["v1", "tags", _]) => "DeleteTags",
        _ => "Unknown",
    }
}

impl HttpConnector for FakeMq {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Ok(self.answer(&request)))
    }
}

impl HttpClient for FakeMq {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

fn broker(state: &str, engine: &str) -> Reply {
    Reply::Ok(json!({
        "brokerId": BROKER, "brokerArn": BROKER_ARN, "brokerName": "orders",
        "brokerState": state, "engineType": engine
    }))
}

fn running() -> Reply {
    broker("RUNNING", "ACTIVEMQ")
}

/// The user as DescribeUser shows it, with its pending change if any.
fn mq_user(pending: Option<&str>) -> Reply {
    let mut user = json!({"brokerId": BROKER, "username": "app", "groups": []});
    if let Some(change) = pending {
        user["pending"] = json!({"pendingChange": change});
    }
    Reply::Ok(user)
}

fn not_found() -> Reply {
    Reply::Err(404, "NotFoundException")
}

/// The broker's tags: the ownership tag for `app` with `value`, or none.
fn tags(value: Option<&str>) -> Reply {
    Reply::Ok(match value {
        Some(v) => json!({"tags": {"team": "orders", OWNER_TAG: v}}),
        None => json!({"tags": {"team": "orders"}}),
    })
}

fn ok() -> Reply {
    Reply::Ok(json!({}))
}

fn props() -> Value {
    json!({"BrokerId": BROKER, "Username": "app", "Password": PASSWORD})
}

fn no_secrets() -> Secrets {
    let none: [&Rule; 0] = [];
    Secrets::new(mock_client!(aws_sdk_secretsmanager, none))
}

/// The function's provider, every service registered the way `main` does, on an `SdkConfig`
/// whose HTTP client is `mq`, and whose retries back off for milliseconds, not seconds.
fn provider(mq: &FakeMq) -> Provider {
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::for_tests()))
        .http_client(mq.clone())
        .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(5)))
        .build();
    let mut provider = Provider::new(Responder::new().unwrap());
    let mut rotators = Rotators::default();
    register_all(
        &mut Registry {
            provider: &mut provider,
            rotators: &mut rotators,
        },
        &Shared {
            sdk: &sdk,
            secrets: &no_secrets(),
            login: &Arc::new(Login::new(None)),
        },
    );
    provider
}

/// Sends the event through the provider and returns the response it delivered.
async fn respond(mq: &FakeMq, mut event: Value) -> Value {
    let rx = Receiver::start(&[]).await;
    event["ResponseURL"] = json!(rx.url("mq"));
    handle(&provider(mq), event, Duration::from_secs(20))
        .await
        .unwrap();
    rx.accepted().json()
}

fn create() -> Value {
    event("Create", TYPE, "set-by-respond", props())
}

fn update(old: Value) -> Value {
    let mut ev = event("Update", TYPE, "set-by-respond", props());
    ev["PhysicalResourceId"] = json!("b-1234/app");
    ev["OldResourceProperties"] = old;
    ev
}

fn delete() -> Value {
    let mut ev = event("Delete", TYPE, "set-by-respond", props());
    ev["PhysicalResourceId"] = json!("b-1234/app");
    ev
}

fn reason(response: &Value) -> &str {
    response["Reason"].as_str().unwrap_or_default()
}

/// A Create that finds no user, reads the ownership tag (`before`), records its own, and is
/// refused by CreateUser as a conflict; the broker then shows the tag this request wrote.
fn conflict(before: Option<&str>) -> FakeMq {
    let written = format!("{OURS} req-Create -");
    FakeMq::default()
        .on("DescribeBroker", [running()])
        .on("DescribeUser", [not_found(), mq_user(Some("CREATE"))])
        .on("CreateTags", [ok()])
        .on("DeleteTags", [ok()])
        .on("CreateUser", [Reply::Err(409, "ConflictException")])
        .on("ListTags", [tags(before), tags(Some(&written))])
}

#[tokio::test]
async fn a_conflict_on_a_user_nobody_tagged_fails_naming_the_tag_and_takes_its_tag_back() {
    let mq = conflict(None);
    let r = respond(&mq, create()).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(
        reason(&r).starts_with(
            "user \"app\" already exists on broker \"b-1234\" and is not managed by this stack"
        ),
        "{r}"
    );
    assert!(reason(&r).contains(OWNER_TAG), "{r}");
    assert_eq!(
        r["PhysicalResourceId"],
        "userkeeper:failed-create:req-Create"
    );
    assert_eq!(
        mq.ops(),
        [
            "DescribeBroker",
            "DescribeBroker",
            "ListTags",
            "DescribeUser",
            "CreateTags",
            "CreateUser",
            "ListTags",
            "DeleteTags",
        ],
        "no second create, no change to the user, and the tag this request wrote is gone"
    );
}

#[tokio::test]
async fn a_conflict_on_a_user_another_stack_tagged_fails_and_restores_its_tag() {
    let other = "other-guid/QueueUser req-9";
    let mq = conflict(Some(other));
    let r = respond(&mq, create()).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(reason(&r).contains("is not managed by this stack"), "{r}");
    assert!(reason(&r).contains(OWNER_TAG), "{r}");
    assert_eq!(mq.count("CreateUser"), 1);
    assert_eq!(mq.count("UpdateUser") + mq.count("DeleteUser"), 0);
    assert_eq!(
        mq.bodies("CreateTags"),
        [
            json!({"tags": {OWNER_TAG: format!("{OURS} req-Create -")}}),
            json!({"tags": {OWNER_TAG: other}}),
        ],
        "ownership recorded before the create, and the owner's tag put back after the refusal"
    );
}

#[tokio::test]
async fn a_conflict_on_a_user_this_stack_tagged_before_succeeds_without_a_second_create() {
    let mq = conflict(Some(&format!("{OURS} req-Earlier")));
    let r = respond(&mq, create()).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["PhysicalResourceId"], "b-1234/app");
    assert_eq!(r["Data"]["PendingChange"], "CREATE");
    assert_eq!(
        mq.ops(),
        [
            "DescribeBroker",
            "DescribeBroker",
            "ListTags",
            "DescribeUser",
            "CreateTags",
            "CreateUser",
            "DescribeUser",
        ]
    );
    assert_eq!(
        mq.bodies("CreateUser")[0]["password"],
        PASSWORD,
        "the one create sent the template's password"
    );
}

#[tokio::test]
async fn a_missing_broker_fails_naming_it_with_no_other_call() {
    let mq = FakeMq::default().on("DescribeBroker", [not_found()]);
    let r = respond(&mq, create()).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert_eq!(
        reason(&r),
        "broker \"b-1234\" does not exist; check BrokerId"
    );
    assert_eq!(mq.ops(), ["DescribeBroker"]);
}

#[tokio::test]
async fn a_rabbitmq_broker_fails_with_no_user_call() {
    let mq = FakeMq::default().on("DescribeBroker", [broker("RUNNING", "RABBITMQ")]);
    let r = respond(&mq, create()).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(
        reason(&r).starts_with(
            "broker \"b-1234\" is a RabbitMQ broker, whose users live in RabbitMQ itself"
        ),
        "{r}"
    );
    assert_eq!(mq.ops(), ["DescribeBroker"]);
}

#[tokio::test]
async fn throttled_describe_broker_is_retried_by_the_sdk() {
    for (status, code) in [
        (400, "ThrottlingException"),
        (429, "TooManyRequestsException"),
    ] {
        let mq = FakeMq::default()
            .on("DescribeBroker", [Reply::Err(status, code), running()])
            .on("DescribeUser", [mq_user(None)])
            .on("ListTags", [tags(Some(&format!("{OURS} req-Create")))]);
        let r = respond(&mq, create()).await;
        assert_eq!(r["Status"], "SUCCESS", "{code}: {r}");
        assert_eq!(
            mq.ops(),
            [
                "DescribeBroker", // throttled
                "DescribeBroker", // the SDK's retry
                "DescribeBroker", // waiting until running
                "ListTags",       // the user's record: this stack's
                "DescribeUser",   // exists already
                "DescribeUser",   // nothing pending
            ],
            "{code}"
        );
    }
}

#[tokio::test]
async fn persistent_throttling_fails_naming_the_operation_and_the_code() {
    let mq = FakeMq::default().on("DescribeBroker", [Reply::Err(400, "ThrottlingException")]);
    let r = respond(&mq, create()).await;
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert_eq!(
        reason(&r),
        "Amazon MQ DescribeBroker failed: ThrottlingException: ThrottlingException from FakeMq"
    );
    assert_eq!(
        mq.ops(),
        ["DescribeBroker"; 3],
        "the SDK's standard retry makes three attempts"
    );
}

#[tokio::test]
async fn delete_leaves_a_user_this_stack_does_not_own() {
    for tag in [None, Some("other-guid/QueueUser req-9")] {
        let mq = FakeMq::default()
            .on("DescribeBroker", [running()])
            .on("ListTags", [tags(tag)]);
        let r = respond(&mq, delete()).await;
        assert_eq!(r["Status"], "SUCCESS", "{tag:?}: {r}");
        assert_eq!(r["PhysicalResourceId"], "b-1234/app");
        assert_eq!(
            mq.ops(),
            ["DescribeBroker", "ListTags"],
            "{tag:?}: no DeleteUser, no DeleteTags"
        );
    }
}

#[tokio::test]
async fn delete_on_a_broker_that_is_gone_succeeds_with_no_other_call() {
    let mq = FakeMq::default().on("DescribeBroker", [not_found()]);
    let r = respond(&mq, delete()).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(mq.ops(), ["DescribeBroker"]);
}

#[tokio::test]
async fn a_rebooting_broker_is_waited_for_before_update_user() {
    let rebooting = broker("REBOOT_IN_PROGRESS", "ACTIVEMQ");
    let mq = FakeMq::default()
        .on("DescribeBroker", [rebooting.clone(), rebooting, running()])
        .on("DescribeUser", [mq_user(None), mq_user(Some("UPDATE"))])
        .on("ListTags", [tags(Some(&format!("{OURS} req-Create")))])
        .on("UpdateUser", [ok()])
        .on("CreateTags", [ok()]);
    let mut old = props();
    old["Password"] = json!("Old-password-1");
    let r = respond(&mq, update(old)).await;
    assert_eq!(r["Status"], "SUCCESS", "{r}");
    assert_eq!(r["Data"]["PendingChange"], "UPDATE");
    assert_eq!(
        mq.ops(),
        [
            "DescribeBroker", // REBOOT_IN_PROGRESS
            "DescribeBroker", // still rebooting
            "DescribeBroker", // RUNNING
            "DescribeUser",
            "ListTags",   // not sent by this request yet
            "UpdateUser", // only once the broker runs
            "CreateTags", // this request sent it; bound to no secret (the password is inline)
            "DescribeUser",
        ]
    );
    assert_eq!(mq.bodies("UpdateUser"), [json!({"password": PASSWORD})]);
    assert_eq!(
        mq.bodies("CreateTags"),
        [json!({"tags": {OWNER_TAG: format!("{OURS} req-Update -")}})]
    );
}

#[tokio::test]
async fn an_update_from_another_stack_changes_nothing_and_names_the_owner() {
    for (tag, owner) in [
        (Some("other-guid/TheirUser req-9"), "other-guid/TheirUser"),
        (None, "userkeeper did not create it"),
    ] {
        let mq = FakeMq::default()
            .on("DescribeBroker", [running()])
            .on("DescribeUser", [mq_user(None)])
            .on("ListTags", [tags(tag)])
            .on("UpdateUser", [ok()])
            .on("RebootBroker", [ok()])
            .on("CreateTags", [ok()]);
        let mut old = props();
        old["Password"] = json!("Old-password-1");
        let mut ev = update(old);
        ev["ResourceProperties"]["ApplyImmediately"] = json!("true");
        let r = respond(&mq, ev).await;
        assert_eq!(r["Status"], "FAILED", "{r}");
        assert!(reason(&r).contains("not managed by this stack"), "{r}");
        assert!(reason(&r).contains(owner), "{r}");
        assert_eq!(
            mq.count("UpdateUser") + mq.count("RebootBroker") + mq.count("CreateTags"),
            0,
            "{:?}",
            mq.ops()
        );
    }
}
