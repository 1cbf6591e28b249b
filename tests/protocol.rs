//! The custom-resource protocol end to end through the provider, with fake resource types and
//! a real HTTP receiver: exactly one response on every path, and nothing secret in it.

mod support;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::*;
use userkeeper::cfn::continuation::Continuer;
use userkeeper::cfn::props::{Diff, PropsError};
use userkeeper::cfn::responder::{DeliveryError, Responder};
use userkeeper::cfn::{Cx, Outcome, Provider, Resource};
use userkeeper::wait::{self, Poll};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct FakeProps {
    name: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    behaviour: Option<String>,
}

#[derive(Default, Clone)]
struct Calls {
    phase_one: Arc<AtomicUsize>,
    create: Arc<AtomicUsize>,
    update: Arc<AtomicUsize>,
    delete: Arc<AtomicUsize>,
}

struct Fake(Calls);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct FakeError(String);

impl userkeeper::cfn::resource::ErrorCode for FakeError {
    fn code(&self) -> String {
        "FakeFailure".into()
    }
}

#[async_trait]
impl Resource for Fake {
    const TYPE: &'static str = "Custom::Fake";
    type Props = FakeProps;
    type Error = FakeError;

    fn validate(p: &FakeProps) -> Result<(), PropsError> {
        if p.name.contains(':') {
            return Err(PropsError::field("Name", "must not contain ':'"));
        }
        Ok(())
    }
    fn physical_id(p: &FakeProps) -> String {
        p.name.clone()
    }
    fn could_have_issued(id: &str) -> bool {
        !id.contains(':')
    }
    const STEPS: &'static [&'static str] = &["phase-one"];

    async fn create(&self, p: FakeProps, cx: &Cx) -> Result<Outcome, FakeError> {
        self.0.create.fetch_add(1, Ordering::SeqCst);
        match p.behaviour.as_deref() {
            Some("panic") => panic!("fake resource panicked on purpose"),
            Some("hang") => {
                cx.created(&p.name);
                wait::until(cx, &format!("thing {} to settle", p.name), || async {
                    Ok::<_, FakeError>(Poll::<()>::Pending("busy".into()))
                })
                .await?;
                unreachable!()
            }
            Some("leak") => Err(FakeError(format!(
                "service said: bad password {}",
                p.password.unwrap_or_default()
            ))),
            Some("two-phase") => {
                // Phase one is done once; phase two waits forever in the first invocation and
                // succeeds in a continuation, which must not redo phase one.
                if cx.is_done("phase-one") {
                    let mut data = serde_json::Map::new();
                    data.insert("Name".into(), json!(p.name));
                    return Ok(Outcome {
                        physical_id: p.name,
                        data,
                        no_echo: false,
                    });
                }
                self.0.phase_one.fetch_add(1, Ordering::SeqCst);
                cx.created(&p.name);
                cx.mark_done("phase-one");
                wait::until(cx, "phase two", || async {
                    Ok::<_, FakeError>(Poll::<()>::Pending("busy".into()))
                })
                .await?;
                unreachable!()
            }
            Some("half") => {
                cx.created(&p.name);
                Err(FakeError("created, then failed".into()))
            }
            Some("big-data") => {
                let mut data = serde_json::Map::new();
                data.insert("Blob".into(), json!("x".repeat(6000)));
                Ok(Outcome {
                    physical_id: p.name,
                    data,
                    no_echo: false,
                })
            }
            _ => {
                let mut data = serde_json::Map::new();
                data.insert("Name".into(), json!(p.name));
                Ok(Outcome {
                    physical_id: p.name,
                    data,
                    no_echo: false,
                })
            }
        }
    }

    async fn update(
        &self,
        id: &str,
        _p: FakeProps,
        diff: &Diff,
        _cx: &Cx,
    ) -> Result<Outcome, FakeError> {
        self.0.update.fetch_add(1, Ordering::SeqCst);
        let mut data = serde_json::Map::new();
        data.insert("PasswordChanged".into(), json!(diff.changed(&["Password"])));
        Ok(Outcome {
            physical_id: id.to_owned(),
            data,
            no_echo: false,
        })
    }

    async fn delete(
        &self,
        _id: &str,
        _props: &serde_json::Map<String, Value>,
        _cx: &Cx,
    ) -> Result<(), FakeError> {
        self.0.delete.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn provider() -> (Provider, Calls) {
    let calls = Calls::default();
    let mut p = Provider::new(Responder::new().unwrap());
    p.register(Fake(calls.clone()));
    (p, calls)
}

fn fake_event(kind: &str, url: &str, props: Value) -> Value {
    event(kind, "Custom::Fake", url, props)
}

async fn run(p: &Provider, ev: Value, within: Duration) -> Result<Value, DeliveryError> {
    handle(p, ev, within).await
}

#[tokio::test]
async fn success_is_one_put_with_empty_content_type_and_byte_length() {
    let rx = Receiver::start(&[]).await;
    let (p, calls) = provider();
    let out = run(
        &p,
        fake_event("Create", &rx.url("ok"), json!({"Name": "thing-é"})),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(out["Status"], "SUCCESS");
    let put = rx.accepted();
    assert_eq!(put.method, "PUT");
    assert!(put.target.contains("X-Amz-Signature=SECRETSIGok"));
    assert_eq!(put.header("content-type").unwrap_or(""), "");
    assert_eq!(
        put.header("content-length").unwrap(),
        put.body.len().to_string()
    );
    let body = put.json();
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], "thing-é");
    assert_eq!(body["Data"]["Name"], "thing-é");
    assert_eq!(body["RequestId"], "req-Create");
    assert_eq!(body["LogicalResourceId"], "AppUser");
    assert!(body.get("Reason").is_none());
    assert_eq!(calls.create.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_panic_in_the_handler_still_answers_failed_once() {
    let rx = Receiver::start(&[]).await;
    let (p, _) = provider();
    let ev = fake_event(
        "Create",
        &rx.url("panic"),
        json!({"Name": "x", "Behaviour": "panic"}),
    );
    run(&p, ev, Duration::from_secs(10)).await.unwrap();
    let body = rx.accepted().json();
    assert_eq!(body["Status"], "FAILED");
    assert!(body["Reason"].as_str().unwrap().contains("panicked"));
    assert_eq!(
        body["PhysicalResourceId"],
        "userkeeper:failed-create:req-Create"
    );
}

#[tokio::test]
async fn deadline_answers_failed_naming_the_wait_before_the_invocation_ends() {
    let rx = Receiver::start(&[]).await;
    let (p, _) = provider();
    let start = tokio::time::Instant::now();
    let ev = fake_event(
        "Create",
        &rx.url("hang"),
        json!({"Name": "slow", "Behaviour": "hang"}),
    );
    run(&p, ev, Duration::from_secs(4)).await.unwrap();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "answered after the deadline: {took:?}"
    );
    assert!(
        took >= Duration::from_secs(3),
        "answered too early: {took:?}"
    );
    let body = rx.accepted().json();
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("timed out while waiting for thing slow to settle (last status: busy)"),
        "{reason}"
    );
    assert!(reason.contains("Lambda timeout"), "{reason}");
    // It had created the thing: the FAILED response names it so Delete cleans it up.
    assert_eq!(body["PhysicalResourceId"], "slow");
}

#[tokio::test]
async fn service_timeout_bounds_the_work_when_shorter_than_the_invocation() {
    let rx = Receiver::start(&[]).await;
    let (p, _) = provider();
    let start = tokio::time::Instant::now();
    let ev = fake_event(
        "Create",
        &rx.url("st"),
        json!({"Name": "slow", "Behaviour": "hang", "ServiceTimeout": "3"}),
    );
    run(&p, ev, Duration::from_secs(60)).await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let reason = rx.accepted().json()["Reason"].as_str().unwrap().to_owned();
    assert!(
        reason.contains("timed out while waiting for") && reason.contains("ServiceTimeout"),
        "{reason}"
    );
}

#[tokio::test]
async fn failure_after_creating_names_the_created_id_so_delete_cleans_up() {
    let rx = Receiver::start(&[]).await;
    let (p, _) = provider();
    let ev = fake_event(
        "Create",
        &rx.url("half"),
        json!({"Name": "made", "Behaviour": "half"}),
    );
    run(&p, ev, Duration::from_secs(10)).await.unwrap();
    let body = rx.accepted().json();
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["PhysicalResourceId"], "made");
}

#[tokio::test]
async fn receiver_500_then_200_is_retried_and_accepted_once() {
    let rx = Receiver::start(&[500, 503]).await;
    let (p, _) = provider();
    let out = run(
        &p,
        fake_event("Create", &rx.url("retry"), json!({"Name": "x"})),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(out["Attempts"], 3);
    let puts = rx.puts();
    assert_eq!(puts.len(), 3);
    assert!(
        puts.iter().all(|p| p.body == puts[0].body),
        "every retry sends the same body"
    );
    rx.accepted();
}

#[tokio::test]
async fn a_403_is_final_and_the_invocation_succeeds_so_lambda_does_not_redo_the_work() {
    let rx = Receiver::start(&[403]).await;
    let (p, calls) = provider();
    let out = run(
        &p,
        fake_event("Create", &rx.url("forbidden"), json!({"Name": "x"})),
        Duration::from_secs(10),
    )
    .await
    .expect("a refused response does not fail the invocation");
    assert_eq!(out["Delivered"], false);
    assert_eq!(out["HttpStatus"], 403);
    assert_eq!(rx.puts().len(), 1, "not retried");
    assert_eq!(calls.create.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_response_url_that_is_not_https_is_refused_before_any_work() {
    let (p, calls) = provider();
    for url in [
        "http://bucket.s3.amazonaws.com/key?X-Amz-Signature=SECRETSIG",
        "http://10.1.2.3/cfn-response/x?X-Amz-Signature=SECRETSIG",
        "file:///tmp/x",
    ] {
        let err = run(
            &p,
            fake_event("Create", url, json!({"Name": "x"})),
            Duration::from_secs(10),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, DeliveryError::NotAllowed(_)), "{url}: {err}");
        assert!(!err.to_string().contains("SECRETSIG"), "{err}");
    }
    assert_eq!(calls.create.load(Ordering::SeqCst), 0, "no work");
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let elsewhere = Receiver::start(&[]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let location = elsewhere.url("stolen");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 8192];
            let _ = sock.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\n\
                 content-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    });
    let (p, _) = provider();
    let out = run(
        &p,
        fake_event(
            "Create",
            &format!("http://{addr}/cfn-response/r?X-Amz-Signature=SECRETSIG"),
            json!({"Name": "x"}),
        ),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(out["Delivered"], false);
    assert_eq!(out["HttpStatus"], 307);
    assert!(
        elsewhere.puts().is_empty(),
        "the response went nowhere else"
    );
}

#[tokio::test]
async fn receiver_down_gives_up_before_the_deadline_without_naming_the_url() {
    let url = dead_url().await;
    let (p, _) = provider();
    let start = tokio::time::Instant::now();
    let err = run(
        &p,
        fake_event("Create", &url, json!({"Name": "x"})),
        Duration::from_secs(3),
    )
    .await
    .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let text = err.to_string();
    assert!(text.contains("could not deliver"), "{text}");
    assert!(
        !text.contains("SECRETSIG") && !text.contains("127.0.0.1"),
        "{text}"
    );
}

#[tokio::test]
async fn unknown_type_fails_listing_supported_types_without_work() {
    let rx = Receiver::start(&[]).await;
    let (p, calls) = provider();
    let ev = event(
        "Create",
        "Custom::Nope",
        &rx.url("unknown"),
        json!({"Name": "x"}),
    );
    run(&p, ev, Duration::from_secs(10)).await.unwrap();
    let body = rx.accepted().json();
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains("\"Custom::Nope\"") && reason.contains("Custom::Fake"),
        "{reason}"
    );
    assert_eq!(calls.create.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn invalid_properties_fail_before_any_work() {
    let rx = Receiver::start(&[]).await;
    let (p, calls) = provider();
    for (name, props, expect) in [
        (
            "typo",
            json!({"Name": "x", "Nmae": "y"}),
            "unknown property `Nmae`",
        ),
        (
            "missing",
            json!({"Password": "p"}),
            "missing required property `Name`",
        ),
        ("rule", json!({"Name": "a:b"}), "Name: must not contain"),
        (
            "timeout",
            json!({"Name": "x", "ServiceTimeout": "0"}),
            "ServiceTimeout",
        ),
    ] {
        let ev = fake_event("Create", &rx.url(name), props);
        run(&p, ev, Duration::from_secs(10)).await.unwrap();
        let put = rx
            .puts()
            .into_iter()
            .find(|p| p.target.contains(&format!("/{name}?")))
            .unwrap();
        let body = put.json();
        assert_eq!(body["Status"], "FAILED", "{name}");
        assert!(
            body["Reason"].as_str().unwrap().contains(expect),
            "{name}: {body}"
        );
        assert_eq!(
            body["PhysicalResourceId"],
            "userkeeper:failed-create:req-Create"
        );
    }
    assert_eq!(calls.create.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn delete_of_marker_or_foreign_id_is_success_without_work_and_keeps_the_id() {
    let rx = Receiver::start(&[]).await;
    let (p, calls) = provider();
    for id in ["userkeeper:failed-create:req-1", "app-AppUser-ABC:def"] {
        let mut ev = fake_event("Delete", &rx.url("del"), json!({"Name": "x"}));
        ev["PhysicalResourceId"] = json!(id);
        run(&p, ev, Duration::from_secs(10)).await.unwrap();
        let body = rx.puts().last().unwrap().json();
        assert_eq!(body["Status"], "SUCCESS");
        assert_eq!(body["PhysicalResourceId"], id);
    }
    assert_eq!(calls.delete.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn update_with_a_new_id_creates_and_never_deletes_the_old() {
    let rx = Receiver::start(&[]).await;
    let (p, calls) = provider();
    let mut ev = fake_event("Update", &rx.url("replace"), json!({"Name": "new-name"}));
    ev["PhysicalResourceId"] = json!("old-name");
    ev["OldResourceProperties"] = json!({"Name": "old-name"});
    run(&p, ev, Duration::from_secs(10)).await.unwrap();
    let body = rx.accepted().json();
    assert_eq!(body["PhysicalResourceId"], "new-name");
    assert_eq!(calls.create.load(Ordering::SeqCst), 1);
    assert_eq!(calls.delete.load(Ordering::SeqCst), 0);
    assert_eq!(calls.update.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn update_in_place_keeps_the_id_and_diffs_raw_properties() {
    let rx = Receiver::start(&[]).await;
    let (p, calls) = provider();
    let mut ev = fake_event(
        "Update",
        &rx.url("same"),
        json!({"Name": "n", "Password": "new-password-123456"}),
    );
    ev["PhysicalResourceId"] = json!("n");
    // Old properties that no longer parse (a rollback after a bad update) must not block it.
    ev["OldResourceProperties"] =
        json!({"Name": "n", "Password": "old-password-123456", "Typo": "x"});
    run(&p, ev, Duration::from_secs(10)).await.unwrap();
    let body = rx.accepted().json();
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], "n");
    assert_eq!(body["Data"]["PasswordChanged"], true);
    assert_eq!(calls.update.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn secrets_and_the_url_never_reach_the_reason() {
    let rx = Receiver::start(&[]).await;
    let (p, _) = provider();
    let ev = fake_event(
        "Create",
        &rx.url("leak"),
        json!({"Name": "x", "Password": "Planted-Secret-Value-1234567", "Behaviour": "leak"}),
    );
    run(&p, ev, Duration::from_secs(10)).await.unwrap();
    let put = rx.accepted();
    let text = String::from_utf8(put.body.clone()).unwrap();
    assert!(text.contains("bad password ***"), "{text}");
    assert!(!text.contains("Planted-Secret-Value-1234567"), "{text}");
    assert!(!text.contains("SECRETSIG"), "{text}");
}

#[tokio::test]
async fn oversized_data_becomes_failed_within_4096_bytes() {
    let rx = Receiver::start(&[]).await;
    let (p, _) = provider();
    run(
        &p,
        fake_event(
            "Create",
            &rx.url("big"),
            json!({"Name": "x", "Behaviour": "big-data"}),
        ),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let put = rx.accepted();
    assert!(put.body.len() <= 4096);
    let body = put.json();
    assert_eq!(body["Status"], "FAILED");
    assert!(body["Reason"].as_str().unwrap().contains("Data"));
}

#[tokio::test]
async fn unknown_request_type_is_answered_failed() {
    let rx = Receiver::start(&[]).await;
    let (p, calls) = provider();
    let ev = fake_event("Upsert", &rx.url("rt"), json!({"Name": "x"}));
    run(&p, ev, Duration::from_secs(10)).await.unwrap();
    let body = rx.accepted().json();
    assert_eq!(body["Status"], "FAILED");
    assert!(body["Reason"].as_str().unwrap().contains("RequestType"));
    assert_eq!(
        calls.create.load(Ordering::SeqCst) + calls.update.load(Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn delete_of_an_unknown_type_is_success_without_work() {
    let rx = Receiver::start(&[]).await;
    let (p, calls) = provider();
    let mut ev = event(
        "Delete",
        "Custom::Nonsense",
        &rx.url("gone"),
        json!({"ServiceTimeout": "soon"}),
    );
    ev["PhysicalResourceId"] = json!("userkeeper:failed-create:req-1");
    run(&p, ev, Duration::from_secs(10)).await.unwrap();
    let body = rx.accepted().json();
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], "userkeeper:failed-create:req-1");
    assert_eq!(calls.delete.load(Ordering::SeqCst), 0);
}

/// Records the events it is asked to start, instead of invoking Lambda.
#[derive(Default, Clone)]
struct Recorder {
    events: Arc<std::sync::Mutex<Vec<Value>>>,
    fail: bool,
    /// Never answers, as a Lambda API without a route to it.
    blackhole: bool,
}

#[async_trait]
impl Continuer for Recorder {
    async fn invoke_async(&self, function_arn: &str, event: &Value) -> Result<(), String> {
        assert_eq!(
            function_arn,
            "arn:aws:lambda:us-east-1:123456789012:function:userkeeper"
        );
        if self.blackhole {
            std::future::pending::<()>().await;
        }
        if self.fail {
            return Err(
                "AccessDeniedException: not authorized to perform lambda:InvokeFunction".into(),
            );
        }
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
}

fn continuing_provider(recorder: &Recorder) -> (Provider, Calls) {
    let calls = Calls::default();
    let mut p = Provider::new(Responder::new().unwrap()).with_continuer(Arc::new(recorder.clone()));
    p.register(Fake(calls.clone()));
    (p, calls)
}

#[tokio::test]
async fn a_wait_past_the_deadline_continues_in_a_new_invocation_and_answers_once() {
    let rx = Receiver::start(&[]).await;
    let recorder = Recorder::default();
    let (p, calls) = continuing_provider(&recorder);
    let ev = fake_event(
        "Create",
        &rx.url("long"),
        json!({"Name": "long", "Behaviour": "two-phase"}),
    );
    let out = run(&p, ev.clone(), Duration::from_secs(3)).await.unwrap();
    assert_eq!(out["Continued"], true);
    assert!(
        rx.puts().is_empty(),
        "no response from an invocation that continues"
    );
    let next = recorder
        .events
        .lock()
        .unwrap()
        .pop()
        .expect("a continuation was started");
    assert_eq!(
        next["ResponseURL"], ev["ResponseURL"],
        "the URL travels in the payload"
    );
    assert_eq!(next["ResourceProperties"], ev["ResourceProperties"]);
    let progress = &next["UserkeeperContinuation"];
    assert_eq!(progress["Attempt"], 1);
    assert_eq!(progress["Done"], json!(["phase-one"]));
    assert_eq!(progress["Created"], "long");

    run(&p, next, Duration::from_secs(10)).await.unwrap();
    let body = rx.accepted().json();
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], "long");
    assert_eq!(
        calls.phase_one.load(Ordering::SeqCst),
        1,
        "a done step is not repeated"
    );
}

#[tokio::test]
async fn a_continuation_out_of_service_timeout_fails_naming_what_it_made() {
    let rx = Receiver::start(&[]).await;
    let recorder = Recorder::default();
    let (p, _) = continuing_provider(&recorder);
    let mut ev = fake_event(
        "Create",
        &rx.url("late"),
        json!({"Name": "late", "Behaviour": "two-phase", "ServiceTimeout": "60"}),
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // Started 59.5 s ago: the ServiceTimeout (less its 1 s margin) is already spent.
    ev["UserkeeperContinuation"] = json!({
        "StartedAtMs": now_ms - 59_500, "Attempt": 4, "Done": ["phase-one"], "Created": "late"
    });
    // The continuation still has a phase to wait for: make it wait.
    ev["UserkeeperContinuation"]["Done"] = json!([]);
    let start = tokio::time::Instant::now();
    run(&p, ev, Duration::from_secs(30)).await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let body = rx.accepted().json();
    assert_eq!(body["Status"], "FAILED");
    assert!(
        body["Reason"].as_str().unwrap().contains("ServiceTimeout"),
        "{body}"
    );
    assert_eq!(
        body["PhysicalResourceId"], "late",
        "CloudFormation's Delete cleans it up"
    );
    assert!(
        recorder.events.lock().unwrap().is_empty(),
        "no further continuation"
    );
}

#[tokio::test]
async fn a_refused_continuation_answers_failed_with_the_permission_needed() {
    let rx = Receiver::start(&[]).await;
    let recorder = Recorder {
        fail: true,
        ..Recorder::default()
    };
    let (p, _) = continuing_provider(&recorder);
    let ev = fake_event(
        "Create",
        &rx.url("denied"),
        json!({"Name": "d", "Behaviour": "hang"}),
    );
    run(&p, ev, Duration::from_secs(3)).await.unwrap();
    let body = rx.accepted().json();
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains("lambda:InvokeFunction on itself"),
        "{reason}"
    );
    assert_eq!(body["PhysicalResourceId"], "d");
}

#[tokio::test]
async fn a_lambda_api_that_never_answers_still_gets_failed_in_time() {
    let rx = Receiver::start(&[]).await;
    let recorder = Recorder {
        blackhole: true,
        ..Recorder::default()
    };
    let (p, _) = continuing_provider(&recorder);
    let ev = fake_event(
        "Create",
        &rx.url("blackhole"),
        json!({"Name": "b", "Behaviour": "hang"}),
    );
    let start = tokio::time::Instant::now();
    run(&p, ev, Duration::from_secs(4)).await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    let body = rx.accepted().json();
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.contains("did not answer in time"), "{reason}");
    assert_eq!(body["PhysicalResourceId"], "b");
    assert_eq!(rx.puts().len(), 1, "exactly one answer");
}

#[tokio::test]
async fn forged_continuation_progress_is_answered_failed_without_work() {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let forged = [
        json!({"StartedAtMs": now_ms + 3_600_000, "Attempt": 1}),
        json!({"StartedAtMs": now_ms, "Attempt": 1_000_000}),
        json!({"StartedAtMs": now_ms, "Attempt": 1, "Done": ["skip-the-checks"]}),
        json!({"StartedAtMs": now_ms, "Attempt": 1, "Created": "arn:aws:elasticache:x:user:y"}),
    ];
    for progress in forged {
        let rx = Receiver::start(&[]).await;
        let recorder = Recorder::default();
        let (p, calls) = continuing_provider(&recorder);
        let mut ev = fake_event("Create", &rx.url("forged"), json!({"Name": "f"}));
        ev["UserkeeperContinuation"] = progress.clone();
        run(&p, ev, Duration::from_secs(10)).await.unwrap();
        let body = rx.accepted().json();
        assert_eq!(body["Status"], "FAILED", "{progress}");
        let reason = body["Reason"].as_str().unwrap();
        assert!(
            reason.contains("UserkeeperContinuation is not valid"),
            "{reason}"
        );
        assert_eq!(
            calls.create.load(Ordering::SeqCst),
            0,
            "{progress}: no work"
        );
        assert!(recorder.events.lock().unwrap().is_empty());
    }
}
