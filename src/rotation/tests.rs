//! The protocol against an in-memory Secrets Manager and a recording rotator.

use super::*;
use serde_json::json;
use std::sync::Mutex as StdMutex;

#[derive(Default)]
struct Version {
    stages: Vec<String>,
    value: Option<String>,
}

#[derive(Default)]
struct Store {
    enabled: bool,
    versions: StdMutex<BTreeMap<String, Version>>,
    passwords: StdMutex<Vec<String>>,
    requests: StdMutex<Vec<PasswordRequest>>,
    puts: StdMutex<Vec<(String, Option<String>)>>,
    moves: StdMutex<Vec<(String, String)>>,
}

const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf";
const OLD: &str = "old-password-0123456789";
const NEW: &str = "new-password-9876543210";

impl Store {
    fn with(current: Value, pending_token: &str) -> Self {
        let store = Store {
            enabled: true,
            ..Default::default()
        };
        store.version("v1", &[AWSCURRENT], Some(current.to_string()));
        store.version(pending_token, &[AWSPENDING], None);
        store.passwords.lock().unwrap().push(NEW.into());
        store
    }
    fn version(&self, id: &str, stages: &[&str], value: Option<String>) {
        self.versions.lock().unwrap().insert(
            id.into(),
            Version {
                stages: stages.iter().map(|s| s.to_string()).collect(),
                value,
            },
        );
    }
    fn value_of(&self, id: &str) -> Option<Value> {
        let versions = self.versions.lock().unwrap();
        let v = versions.get(id)?.value.as_ref()?;
        Some(serde_json::from_str(v).unwrap())
    }
    fn writes(&self) -> usize {
        self.puts.lock().unwrap().len() + self.moves.lock().unwrap().len()
    }
}

use serde_json::Value;

#[async_trait]
impl SecretStore for Store {
    async fn describe(&self, _id: &str) -> Result<SecretInfo, StoreError> {
        Ok(SecretInfo {
            arn: ARN.into(),
            rotation_enabled: self.enabled,
            versions: self
                .versions
                .lock()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.stages.clone()))
                .collect(),
            tags: Default::default(),
        })
    }
    async fn value(
        &self,
        _id: &str,
        version_id: Option<&str>,
        stage: &str,
    ) -> Result<Option<Secret>, StoreError> {
        let versions = self.versions.lock().unwrap();
        let found = versions.iter().find(|(id, v)| {
            v.stages.iter().any(|s| s == stage) && version_id.is_none_or(|want| want == *id)
        });
        match found {
            Some((_, v)) => Ok(v.value.clone().map(Secret::new)),
            None => Err(StoreError {
                op: "GetSecretValue",
                message: "no such version".into(),
            }),
        }
    }
    async fn random_password(&self, request: &PasswordRequest) -> Result<Secret, StoreError> {
        self.requests.lock().unwrap().push(request.clone());
        Ok(Secret::new(self.passwords.lock().unwrap().remove(0)))
    }
    async fn put_pending(
        &self,
        _id: &str,
        token: &str,
        value: &Secret,
        rotation_token: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut versions = self.versions.lock().unwrap();
        let v = versions.get_mut(token).expect("the pending version exists");
        assert!(v.value.is_none(), "a version's value is never replaced");
        v.value = Some(value.expose().to_owned());
        self.puts
            .lock()
            .unwrap()
            .push((token.into(), rotation_token.map(str::to_owned)));
        Ok(())
    }
    async fn move_current(&self, _id: &str, to: &str, from: &str) -> Result<(), StoreError> {
        let mut versions = self.versions.lock().unwrap();
        versions
            .get_mut(from)
            .unwrap()
            .stages
            .retain(|s| s != AWSCURRENT);
        versions.get_mut(to).unwrap().stages.push(AWSCURRENT.into());
        self.moves.lock().unwrap().push((from.into(), to.into()));
        Ok(())
    }
}

/// Records what the protocol asked of the service.
#[derive(Default)]
struct Recorder {
    calls: StdMutex<Vec<String>>,
    /// Makes `set` fail quoting the password it was given, or hang.
    fail_quoting_password: bool,
    hang: bool,
}

#[async_trait]
impl Rotator for Recorder {
    fn engine(&self) -> &'static str {
        "elasticache"
    }
    fn recognises(&self, doc: &SecretDoc) -> bool {
        doc.str_key("user_arn").is_ok_and(|a| a.is_some())
    }
    fn check(&self, doc: &mut SecretDoc) -> Result<(), FormatError> {
        doc.str_key("user_id")?
            .map(|_| ())
            .ok_or_else(|| FormatError::missing("user_id", "the user id"))
    }
    fn rules(&self) -> PasswordRules {
        PasswordRules {
            min_length: 16,
            max_length: 128,
            exclude: ",@",
        }
    }
    fn check_password(&self, password: &Secret) -> Result<(), String> {
        check_rules(&self.rules(), password)
    }
    fn error_code(&self, _e: &(dyn std::error::Error + 'static)) -> String {
        "RecorderFailure".into()
    }
    async fn precheck(&self, current: &SecretDoc, _cx: &StepCx) -> Result<(), ServiceError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("precheck {}", current.password.expose()));
        Ok(())
    }
    async fn set(
        &self,
        current: &SecretDoc,
        pending: &SecretDoc,
        cx: &StepCx,
    ) -> Result<Outcome, ServiceError> {
        self.calls.lock().unwrap().push(format!(
            "set {} {}",
            current.password.expose(),
            pending.password.expose()
        ));
        if self.hang {
            cx.waiting_for("user app to become active".into());
            std::future::pending::<()>().await;
        }
        if self.fail_quoting_password {
            return Err(format!("service said: bad password {}", pending.password.expose()).into());
        }
        Ok("set".into())
    }
    async fn test(
        &self,
        doc: &SecretDoc,
        _current: &SecretDoc,
        _cx: &StepCx,
    ) -> Result<Outcome, ServiceError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("test {}", doc.password.expose()));
        Ok("tested".into())
    }
}

fn secret() -> Value {
    json!({"engine": "elasticache", "user_id": "app", "username": "app", "password": OLD,
           "host": "cache.example", "extra": {"kept": true}})
}

fn rotation(store: Store, rotator: Recorder) -> (Rotation<Store>, Arc<Recorder>) {
    let rotator = Arc::new(rotator);
    let mut rotators = Rotators::default();
    rotators.by_engine.insert("elasticache", rotator.clone());
    (Rotation::new(store, rotators), rotator)
}

async fn step<S: SecretStore>(r: &Rotation<S>, step: &str) -> Result<Value, RotationFailure> {
    let event = RotationEvent {
        step: step.into(),
        secret_id: ARN.into(),
        client_request_token: "tok".into(),
        rotation_token: Some("rot-token".into()),
    };
    r.handle(&event, Instant::now() + Duration::from_secs(60))
        .await
}

#[tokio::test]
async fn a_full_rotation_run_twice_per_step_changes_things_once() {
    let (r, rotator) = rotation(Store::with(secret(), "tok"), Recorder::default());
    for name in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        step(&r, name).await.unwrap();
        step(&r, name).await.unwrap();
    }
    assert_eq!(
        *r.store.puts.lock().unwrap(),
        vec![("tok".to_string(), Some("rot-token".to_string()))],
        "one PutSecretValue, with the RotationToken passed back"
    );
    assert_eq!(
        *r.store.requests.lock().unwrap(),
        vec![PasswordRequest {
            length: 32,
            exclude: ",@"
        }]
    );
    let pending = r.store.value_of("tok").unwrap();
    assert_eq!(pending["password"], NEW);
    assert_eq!(pending["extra"], json!({"kept": true}), "other keys kept");
    assert_eq!(
        *rotator.calls.lock().unwrap(),
        vec![
            format!("precheck {OLD}"),
            format!("set {OLD} {NEW}"),
            format!("set {OLD} {NEW}"),
            format!("test {NEW}"),
            format!("test {NEW}"),
        ],
        "set and test are the service's to make idempotent; finishSecret never reaches it"
    );
    assert_eq!(
        *r.store.moves.lock().unwrap(),
        vec![("v1".to_string(), "tok".to_string())]
    );
}

#[tokio::test]
async fn entry_checks_refuse_before_any_change() {
    let mut disabled = Store::with(secret(), "tok");
    disabled.enabled = false;
    let (r, rotator) = rotation(disabled, Recorder::default());
    let e = step(&r, "createSecret").await.unwrap_err();
    assert!(matches!(e.error, RotationError::NotEnabled(_)), "{e}");
    assert_eq!(r.store.writes(), 0);
    assert!(rotator.calls.lock().unwrap().is_empty());

    let (r, _) = rotation(Store::with(secret(), "other"), Recorder::default());
    let e = step(&r, "setSecret").await.unwrap_err();
    assert!(
        matches!(e.error, RotationError::UnknownVersion { .. }),
        "{e}"
    );
    assert!(e.message.contains("is not a version of secret"), "{e}");

    r.store
        .version("tok", &["AWSPREVIOUS"], Some(secret().to_string()));
    let e = step(&r, "finishSecret").await.unwrap_err();
    assert!(matches!(e.error, RotationError::NotPending { .. }), "{e}");
    assert_eq!(r.store.writes(), 0);

    let e = step(&r, "renameSecret").await.unwrap_err();
    assert!(e.message.contains("unknown Step \"renameSecret\""), "{e}");
}

#[tokio::test]
async fn a_token_that_is_current_already_is_done() {
    let store = Store::with(secret(), "tok");
    store.version("tok", &[AWSCURRENT, AWSPENDING], Some(secret().to_string()));
    store.version("v1", &["AWSPREVIOUS"], Some(secret().to_string()));
    let (r, rotator) = rotation(store, Recorder::default());
    for name in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let out = step(&r, name).await.unwrap();
        assert!(
            out["Outcome"]
                .as_str()
                .unwrap()
                .contains("AWSCURRENT already")
        );
    }
    assert_eq!(r.store.writes(), 0);
    assert!(rotator.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn test_secret_alone_on_a_fresh_pending_version_tests_the_current_credentials() {
    let (r, rotator) = rotation(Store::with(secret(), "tok"), Recorder::default());
    let out = step(&r, "testSecret").await.unwrap();
    assert!(
        out["Outcome"]
            .as_str()
            .unwrap()
            .contains("createSecret has not run")
    );
    assert_eq!(*rotator.calls.lock().unwrap(), vec![format!("test {OLD}")]);
    assert_eq!(r.store.writes(), 0);
}

#[tokio::test]
async fn set_secret_needs_create_secret_first_and_skips_an_unchanged_password() {
    let (r, rotator) = rotation(Store::with(secret(), "tok"), Recorder::default());
    let e = step(&r, "finishSecret").await.unwrap_err();
    assert!(
        e.message
            .contains("createSecret must run before finishSecret"),
        "{e}"
    );
    let e = step(&r, "setSecret").await.unwrap_err();
    assert!(
        matches!(e.error, RotationError::NoPendingValue { .. }),
        "{e}"
    );

    // moto's RotateImmediately=false copies the current value into the pending version.
    let store = Store::with(secret(), "tok");
    store.version("tok", &[AWSPENDING], Some(secret().to_string()));
    let (r, rotator2) = rotation(store, Recorder::default());
    let out = step(&r, "setSecret").await.unwrap();
    assert!(out["Outcome"].as_str().unwrap().contains("nothing to set"));
    assert!(rotator.calls.lock().unwrap().is_empty());
    assert!(rotator2.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bad_secrets_are_named_and_change_nothing() {
    let cases = [
        (
            json!({"engine": "cassandra", "username": "u", "password": OLD}),
            "key \"engine\": expected one of \"elasticache\"",
        ),
        (
            json!({"engine": "elasticache", "username": "u", "password": OLD}),
            "key \"user_id\" is missing",
        ),
        (
            json!({"username": "u", "password": OLD}),
            "key \"engine\" is missing: expected one of \"elasticache\"",
        ),
        (
            json!({"engine": "elasticache", "user_id": "u", "username": "u", "password": OLD, "password_length": 8}),
            "key \"password_length\": expected a number from 16 to 128",
        ),
        (
            json!({"engine": "elasticache", "user_id": "u", "username": "u", "password": OLD, "port": OLD}),
            "key \"port\"",
        ),
    ];
    for (value, want) in cases {
        let (r, rotator) = rotation(Store::with(value.clone(), "tok"), Recorder::default());
        let e = step(&r, "createSecret").await.unwrap_err();
        assert!(e.message.contains(want), "{value}: {e}");
        assert!(e.message.contains("Nothing was changed"), "{e}");
        assert!(!e.message.contains(OLD), "{e}");
        assert_eq!(r.store.writes(), 0);
        assert!(rotator.calls.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_generated_password_the_service_would_reject_is_never_stored() {
    let store = Store::with(secret(), "tok");
    *store.passwords.lock().unwrap() = vec!["has,a,comma,in-it-1234".into()];
    let (r, _) = rotation(store, Recorder::default());
    let e = step(&r, "createSecret").await.unwrap_err();
    assert!(matches!(e.error, RotationError::BadPassword { .. }), "{e}");
    assert!(!e.message.contains("comma"), "{e}");
    assert_eq!(r.store.writes(), 0);
}

#[tokio::test]
async fn service_errors_are_masked_and_timeouts_name_the_wait() {
    let rotator = Recorder {
        fail_quoting_password: true,
        ..Default::default()
    };
    let (r, _) = rotation(Store::with(secret(), "tok"), rotator);
    step(&r, "createSecret").await.unwrap();
    let e = step(&r, "setSecret").await.unwrap_err();
    assert!(e.message.contains("setSecret for secret"), "{e}");
    assert!(!e.message.contains(NEW) && e.message.contains("***"), "{e}");
    // lambda_runtime logs a failed handler's error with {:?}.
    let debug = format!("{e:?}");
    assert!(!debug.contains(NEW) && debug.contains("***"), "{debug}");

    let rotator = Recorder {
        hang: true,
        ..Default::default()
    };
    let (r, _) = rotation(Store::with(secret(), "tok"), rotator);
    step(&r, "createSecret").await.unwrap();
    let event = RotationEvent {
        step: "setSecret".into(),
        secret_id: ARN.into(),
        client_request_token: "tok".into(),
        rotation_token: None,
    };
    let e = r
        .handle(&event, Instant::now() + RESERVE + Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(e.error, RotationError::TimedOut { .. }), "{e}");
    assert!(e.message.contains("user app to become active"), "{e}");
}
