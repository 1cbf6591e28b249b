//! The Secrets Manager rotation protocol, free of any service: the entry checks, the four
//! steps, and what makes each step safe to run again. Secrets Manager is reached through
//! [`SecretStore`] and each data store through its service's [`Rotator`], so the protocol is
//! tested here against in-memory doubles and end to end against the emulator.
//!
//! Every step is idempotent, because Secrets Manager retries a failed rotation with the same
//! token, and a rotation killed half-way must complete on that retry:
//! - createSecret stores a value for the token only if the pending version has none;
//! - setSecret asks the rotator, which skips work the service already did;
//! - testSecret only reads (and, with no pending value yet, tests the current credentials:
//!   `RotateImmediately: false` runs testSecret alone on a fresh pending version);
//! - finishSecret moves AWSCURRENT only if the token does not hold it already.
//!
//! The current value is always read by stage (`AWSCURRENT`) and the pending one by version id
//! and stage: an unstaged read has been seen to return the old version after a stage move.

pub mod secret;

use crate::redact::{Redactor, Secret};
use crate::wait::Waiting;
use async_trait::async_trait;
pub use secret::{FormatError, SecretDoc};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";

/// Time kept back before the invocation's deadline to report a timeout instead of being cut
/// off by Lambda without a word.
const RESERVE: Duration = Duration::from_secs(3);

/// A rotation event. Modelled here because `aws_lambda_events`' type lacks `RotationToken`,
/// which must be passed back on `PutSecretValue`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub step: String,
    pub secret_id: String,
    pub client_request_token: String,
    #[serde(default)]
    pub rotation_token: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Create,
    Set,
    Test,
    Finish,
}

impl Step {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "createSecret" => Self::Create,
            "setSecret" => Self::Set,
            "testSecret" => Self::Test,
            "finishSecret" => Self::Finish,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "createSecret",
            Self::Set => "setSecret",
            Self::Test => "testSecret",
            Self::Finish => "finishSecret",
        }
    }
}

/// A secret version and its staging labels.
#[derive(Clone, Debug, Default)]
pub struct SecretInfo {
    pub arn: String,
    pub rotation_enabled: bool,
    pub versions: BTreeMap<String, Vec<String>>,
    pub tags: BTreeMap<String, String>,
}

impl SecretInfo {
    fn version_with(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(id, _)| id.as_str())
    }
}

/// What `GetRandomPassword` is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordRequest {
    pub length: u32,
    pub exclude: &'static str,
}

/// A service's password rule, as the rotator states it.
#[derive(Clone, Copy, Debug)]
pub struct PasswordRules {
    pub min_length: u32,
    pub max_length: u32,
    /// Characters the service rejects, plus those that make trouble in clients (quotes,
    /// backslash). `GetRandomPassword` never includes a space unless asked.
    pub exclude: &'static str,
}

/// A failed Secrets Manager call. Never carries a secret value (the SDK's messages do not).
#[derive(Debug, thiserror::Error)]
#[error("Secrets Manager {op} failed: {message}")]
pub struct StoreError {
    pub op: &'static str,
    pub message: String,
}

/// Secrets Manager, as the protocol uses it.
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn describe(&self, secret_id: &str) -> Result<SecretInfo, StoreError>;
    /// The value of the version with `stage` (and `version_id`, if given); `None` when that
    /// version exists but holds no value yet.
    async fn value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: &str,
    ) -> Result<Option<Secret>, StoreError>;
    async fn random_password(&self, request: &PasswordRequest) -> Result<Secret, StoreError>;
    /// Stores `value` as version `token`, staged AWSPENDING.
    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &Secret,
        rotation_token: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Moves AWSCURRENT from version `from` to version `to`.
    async fn move_current(&self, secret_id: &str, to: &str, from: &str) -> Result<(), StoreError>;
}

/// What a step did, for the log.
pub type Outcome = String;
pub type ServiceError = Box<dyn std::error::Error + Send + Sync>;

/// What one step gives a rotator while it works.
pub struct StepCx {
    /// The event's `SecretId`: an ARN or a name.
    pub secret_id: String,
    pub token: String,
    pub redactor: Redactor,
    /// The secret's full ARN, once Secrets Manager has said it.
    arn: std::sync::OnceLock<String>,
    /// The secret's tags, as described at the step's start.
    tags: std::sync::OnceLock<BTreeMap<String, String>>,
    /// The engine of the rotator at work, once the secret named it.
    engine: std::sync::OnceLock<&'static str>,
    logged_in: std::sync::atomic::AtomicBool,
    waiting: Mutex<Option<String>>,
}

impl StepCx {
    pub fn new(secret_id: &str, token: &str, redactor: Redactor) -> Self {
        Self {
            secret_id: secret_id.to_owned(),
            token: token.to_owned(),
            redactor,
            arn: std::sync::OnceLock::new(),
            tags: std::sync::OnceLock::new(),
            engine: std::sync::OnceLock::new(),
            logged_in: std::sync::atomic::AtomicBool::new(false),
            waiting: Mutex::new(None),
        }
    }
    /// The rotated secret's full ARN (what a user is bound to); the event's `SecretId` until
    /// the secret has been described.
    pub fn secret_arn(&self) -> &str {
        self.arn.get().map_or(&self.secret_id, String::as_str)
    }
    /// Says that the step logs in to the data store (for metrics).
    pub fn logging_in(&self) {
        self.logged_in
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    /// The secret's tag `key`, as it was when the step started.
    pub fn secret_tag(&self, key: &str) -> Option<&str> {
        self.tags.get()?.get(key).map(String::as_str)
    }
    fn waiting_for_what(&self) -> Option<String> {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Waiting for StepCx {
    fn waiting_for(&self, what: String) {
        *self.waiting.lock().unwrap_or_else(|e| e.into_inner()) = Some(what);
    }
}

/// One service's side of rotation. Implemented in the service's module, registered in
/// `services::register_all`.
#[async_trait]
pub trait Rotator: Send + Sync {
    /// The secret's `engine` value this rotator serves.
    fn engine(&self) -> &'static str;
    /// Whether a secret that names no `engine` is this rotator's by its shape (AWS's own
    /// rotation templates keep the user's ARN instead).
    fn recognises(&self, _doc: &SecretDoc) -> bool {
        false
    }
    /// Checks the keys this engine needs, naming the key and the form expected, and fills in
    /// what can be derived (an id from an ARN, a default strategy).
    fn check(&self, doc: &mut SecretDoc) -> Result<(), FormatError>;
    fn rules(&self) -> PasswordRules;
    /// The service's full password rule, applied to every generated password before use.
    fn check_password(&self, password: &Secret) -> Result<(), String>;
    /// The user the next password is for: the same one, unless the strategy alternates.
    fn next_username(&self, current: &SecretDoc) -> String {
        current.username.clone()
    }
    /// Checks, before createSecret writes anything, that the user named by `current` exists
    /// and can take a new password.
    async fn precheck(&self, current: &SecretDoc, cx: &StepCx) -> Result<(), ServiceError>;
    /// Makes the service accept `pending` (keeping `current` working where it can); skips
    /// what is done already.
    async fn set(
        &self,
        current: &SecretDoc,
        pending: &SecretDoc,
        cx: &StepCx,
    ) -> Result<Outcome, ServiceError>;
    /// What a failure of this rotator is called in metrics (the AWS service's error code, or
    /// the service's own kind).
    fn error_code(&self, e: &(dyn std::error::Error + 'static)) -> String;
    /// Proves `doc`'s credentials work: a login when the secret names a host.
    async fn test(
        &self,
        doc: &SecretDoc,
        current: &SecretDoc,
        cx: &StepCx,
    ) -> Result<Outcome, ServiceError>;
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("unknown Step {0:?}: expected createSecret, setSecret, testSecret or finishSecret")]
    UnknownStep(String),
    #[error(
        "rotation is not enabled on secret {0}; turn it on with this function as the rotation \
         function (an AWS::SecretsManager::RotationSchedule, or `aws secretsmanager \
         rotate-secret`)"
    )]
    NotEnabled(String),
    #[error(
        "ClientRequestToken {token} is not a version of secret {arn}; Secrets Manager creates \
         the pending version before it calls the function, so invoke with that version's id"
    )]
    UnknownVersion { arn: String, token: String },
    #[error(
        "version {token} of secret {arn} is neither AWSCURRENT nor AWSPENDING, so it is not \
         being rotated; start a new rotation (`aws secretsmanager rotate-secret`)"
    )]
    NotPending { arn: String, token: String },
    #[error("secret {arn} has no AWSCURRENT version; store a value in it before rotating")]
    NoCurrent { arn: String },
    #[error(
        "the pending version {token} of secret {arn} has no value yet; createSecret must run \
         before {step} (Secrets Manager runs the steps in order; a manual run should too)"
    )]
    NoPendingValue {
        step: &'static str,
        arn: String,
        token: String,
    },
    #[error(
        "the {stage} value of secret {arn} is not usable: {error}. Nothing was changed; fix \
         the value (the README's \"The rotated secret\" lists the keys)"
    )]
    Format {
        arn: String,
        stage: &'static str,
        error: FormatError,
    },
    #[error(
        "GetRandomPassword returned a password that {engine} would reject ({problem}); \
         nothing was stored. This is retried with a new password on the next attempt"
    )]
    BadPassword {
        engine: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{step} for secret {arn} failed: {message}")]
    Service {
        step: &'static str,
        arn: String,
        message: String,
        /// The rotator's code for it, for metrics.
        code: String,
    },
    #[error(
        "{step} for secret {arn} ran out of time waiting for {what}; Secrets Manager retries \
         the rotation and the retry carries on from there (raise the function's timeout if \
         this repeats)"
    )]
    TimedOut {
        step: &'static str,
        arn: String,
        what: String,
    },
}

impl RotationError {
    /// A rotator's failure in `step`, with the chain of its causes.
    fn service(step: Step, arn: &str, rotator: &dyn Rotator, e: ServiceError) -> Self {
        Self::Service {
            step: step.as_str(),
            arn: arn.to_owned(),
            message: crate::error::with_causes(e.to_string(), e.source()),
            code: rotator.error_code(&*e),
        }
    }

    /// What the failure is called in metrics: the rotator's code for a service's failure,
    /// else the protocol's own.
    pub fn code(&self) -> &str {
        match self {
            Self::Service { code, .. } => code,
            Self::UnknownStep(_) => "UnknownStep",
            Self::NotEnabled(_) => "RotationNotEnabled",
            Self::UnknownVersion { .. } | Self::NotPending { .. } => "InvalidToken",
            Self::NoCurrent { .. } | Self::NoPendingValue { .. } => "NoValue",
            Self::Format { .. } => "InvalidSecretValue",
            Self::BadPassword { .. } => "BadRandomPassword",
            Self::Store(_) => "SecretsManagerError",
            Self::TimedOut { .. } => "Timeout",
        }
    }
}

/// A failed step: the typed error, and its message with every secret value masked.
#[derive(thiserror::Error)]
#[error("{message}")]
pub struct RotationFailure {
    pub error: RotationError,
    pub message: String,
}

/// Only the masked message: `lambda_runtime` logs a failed handler's error with `{:?}`, and
/// the typed error may quote a password a service echoed back.
impl std::fmt::Debug for RotationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RotationFailure")
            .field(&self.message)
            .finish()
    }
}

/// The rotators, by engine.
#[derive(Default, Clone)]
pub struct Rotators {
    by_engine: BTreeMap<&'static str, Arc<dyn Rotator>>,
}

impl Rotators {
    pub fn register(&mut self, rotator: impl Rotator + 'static) {
        self.by_engine.insert(rotator.engine(), Arc::new(rotator));
    }
    /// The rotator for `doc`: the one its `engine` names, or the one that recognises it.
    fn for_doc(&self, doc: &SecretDoc) -> Result<&Arc<dyn Rotator>, FormatError> {
        let expected = || format!("one of {}", self.engines());
        match &doc.engine {
            Some(engine) => self
                .by_engine
                .get(engine.as_str())
                .ok_or_else(|| FormatError::key("engine", expected())),
            None => self
                .by_engine
                .values()
                .find(|r| r.recognises(doc))
                .ok_or_else(|| FormatError::missing("engine", expected())),
        }
    }
    fn engines(&self) -> String {
        let names: Vec<_> = self.by_engine.keys().map(|e| format!("\"{e}\"")).collect();
        names.join(", ")
    }
}

/// Runs rotation steps.
pub struct Rotation<S> {
    store: S,
    rotators: Rotators,
}

impl<S: SecretStore> Rotation<S> {
    pub fn new(store: S, rotators: Rotators) -> Self {
        Self { store, rotators }
    }

    /// Runs one step before `deadline` and logs its outcome.
    pub async fn handle(
        &self,
        event: &RotationEvent,
        deadline: Instant,
    ) -> Result<serde_json::Value, RotationFailure> {
        let started = Instant::now();
        let redactor = Redactor::new();
        let cx = StepCx::new(
            &event.secret_id,
            &event.client_request_token,
            redactor.clone(),
        );
        let span = tracing::info_span!(
            "rotation",
            secret_arn = %event.secret_id,
            step = %event.step,
        );
        let work = tracing::Instrument::instrument(self.run(event, &cx), span.clone());
        let result = match tokio::time::timeout_at(deadline - RESERVE, work).await {
            Ok(r) => r,
            Err(_) => Err(RotationError::TimedOut {
                step: Step::parse(&event.step).map_or("step", Step::as_str),
                arn: event.secret_id.clone(),
                what: cx
                    .waiting_for_what()
                    .unwrap_or_else(|| "the step to finish".into()),
            }),
        };
        let _entered = span.enter();
        crate::metrics::emit(
            &crate::metrics::Step {
                engine: cx.engine.get().copied().unwrap_or(crate::metrics::UNKNOWN),
                step: Step::parse(&event.step).map_or(crate::metrics::UNKNOWN, Step::as_str),
                error_code: result.as_ref().err().map(RotationError::code),
                duration: started.elapsed(),
                logged_in: cx.logged_in.load(std::sync::atomic::Ordering::Relaxed),
            }
            .line(),
        );
        match result {
            Ok(outcome) => {
                tracing::info!(outcome = %redactor.scrub(&outcome), "rotation step done");
                Ok(serde_json::json!({"Step": event.step, "Outcome": redactor.scrub(&outcome)}))
            }
            Err(error) => {
                let message = redactor.scrub(&error.to_string());
                tracing::error!(error_code = error.code(), error = %message, "rotation step failed");
                Err(RotationFailure { error, message })
            }
        }
    }

    async fn run(&self, event: &RotationEvent, cx: &StepCx) -> Result<Outcome, RotationError> {
        let step = Step::parse(&event.step)
            .ok_or_else(|| RotationError::UnknownStep(event.step.clone()))?;
        let token = event.client_request_token.as_str();
        let info = self.store.describe(&event.secret_id).await?;
        let arn = info.arn.as_str();
        let _ = cx.arn.set(info.arn.clone());
        let _ = cx.tags.set(info.tags.clone());
        if !info.rotation_enabled {
            return Err(RotationError::NotEnabled(arn.to_owned()));
        }
        let stages = info
            .versions
            .get(token)
            .ok_or_else(|| RotationError::UnknownVersion {
                arn: arn.to_owned(),
                token: token.to_owned(),
            })?;
        if stages.iter().any(|s| s == AWSCURRENT) {
            return Ok(format!(
                "version {token} is AWSCURRENT already: nothing to do"
            ));
        }
        if !stages.iter().any(|s| s == AWSPENDING) {
            return Err(RotationError::NotPending {
                arn: arn.to_owned(),
                token: token.to_owned(),
            });
        }
        match step {
            Step::Create => self.create(event, arn, cx).await,
            Step::Set => {
                let (current, rotator) = self.current(arn, cx).await?;
                let pending = self
                    .pending(arn, token, &*rotator, cx)
                    .await?
                    .ok_or_else(|| RotationError::NoPendingValue {
                        step: step.as_str(),
                        arn: arn.to_owned(),
                        token: token.to_owned(),
                    })?;
                if pending.username == current.username && pending.password == current.password {
                    return Ok("the pending password is the current one: nothing to set".into());
                }
                rotator
                    .set(&current, &pending, cx)
                    .await
                    .map_err(|e| RotationError::service(step, arn, &*rotator, e))
            }
            Step::Test => {
                let (current, rotator) = self.current(arn, cx).await?;
                let service = |e| RotationError::service(step, arn, &*rotator, e);
                match self.pending(arn, token, &*rotator, cx).await? {
                    Some(pending) => rotator.test(&pending, &current, cx).await.map_err(service),
                    None => {
                        let outcome = rotator
                            .test(&current, &current, cx)
                            .await
                            .map_err(service)?;
                        Ok(format!(
                            "the pending version has no value yet (createSecret has not run), \
                             so the current credentials were tested: {outcome}"
                        ))
                    }
                }
            }
            Step::Finish => {
                // Never make a version current that holds nothing to read.
                let Some(pending) = self.store.value(arn, Some(token), AWSPENDING).await? else {
                    return Err(RotationError::NoPendingValue {
                        step: step.as_str(),
                        arn: arn.to_owned(),
                        token: token.to_owned(),
                    });
                };
                self.note_engine(&pending, cx);
                let from =
                    info.version_with(AWSCURRENT)
                        .ok_or_else(|| RotationError::NoCurrent {
                            arn: arn.to_owned(),
                        })?;
                self.store.move_current(arn, token, from).await?;
                Ok(format!("moved AWSCURRENT from version {from} to {token}"))
            }
        }
    }

    async fn create(
        &self,
        event: &RotationEvent,
        arn: &str,
        cx: &StepCx,
    ) -> Result<Outcome, RotationError> {
        let token = event.client_request_token.as_str();
        // Checked before anything else so that a retry never replaces a password that
        // setSecret may already have given the service.
        if let Some(existing) = self.store.value(arn, Some(token), AWSPENDING).await? {
            cx.redactor.add(existing.expose());
            self.note_engine(&existing, cx);
            return Ok("the pending version has a value already: kept it".into());
        }
        let (current, rotator) = self.current(arn, cx).await?;
        let rules = rotator.rules();
        let length = current.password_length.unwrap_or(32);
        if !(rules.min_length..=rules.max_length).contains(&length) {
            return Err(RotationError::Format {
                arn: arn.to_owned(),
                stage: AWSCURRENT,
                error: FormatError::key(
                    "password_length",
                    format!(
                        "a number from {} to {} for {}",
                        rules.min_length,
                        rules.max_length,
                        rotator.engine()
                    ),
                ),
            });
        }
        // A user that cannot take a new password is refused before anything is written: a
        // stored pending value would leave the rotation stuck on it.
        rotator
            .precheck(&current, cx)
            .await
            .map_err(|e| RotationError::service(Step::Create, arn, &*rotator, e))?;
        let request = PasswordRequest {
            length,
            exclude: rules.exclude,
        };
        let password = self.store.random_password(&request).await?;
        cx.redactor.add(password.expose());
        rotator
            .check_password(&password)
            .map_err(|problem| RotationError::BadPassword {
                engine: rotator.engine(),
                problem,
            })?;
        let username = rotator.next_username(&current);
        let pending = current.with_credentials(&username, password);
        self.store
            .put_pending(
                arn,
                token,
                &pending.to_secret_string(),
                event.rotation_token.as_deref(),
            )
            .await?;
        Ok(format!(
            "stored a new {length}-character password for user {username} in the pending version"
        ))
    }

    /// The AWSCURRENT value, parsed and checked, and the rotator for its engine.
    async fn current(
        &self,
        arn: &str,
        cx: &StepCx,
    ) -> Result<(SecretDoc, Arc<dyn Rotator>), RotationError> {
        let text = self
            .store
            .value(arn, None, AWSCURRENT)
            .await?
            .ok_or_else(|| RotationError::NoCurrent {
                arn: arn.to_owned(),
            })?;
        let format = |error| RotationError::Format {
            arn: arn.to_owned(),
            stage: AWSCURRENT,
            error,
        };
        let mut doc = SecretDoc::parse(text.expose(), &cx.redactor).map_err(format)?;
        let rotator = self.rotators.for_doc(&doc).map_err(format)?.clone();
        let _ = cx.engine.set(rotator.engine());
        rotator.check(&mut doc).map_err(format)?;
        Ok((doc, rotator))
    }

    /// Records, for metrics, which engine a value read anyway belongs to (steps that need no
    /// rotator still report one; nothing else depends on it, so a value that does not parse
    /// leaves it unknown).
    fn note_engine(&self, value: &Secret, cx: &StepCx) {
        if let Ok(doc) = SecretDoc::parse(value.expose(), &cx.redactor)
            && let Ok(rotator) = self.rotators.for_doc(&doc)
        {
            let _ = cx.engine.set(rotator.engine());
        }
    }

    /// The pending version's value, parsed and checked; `None` if it has no value yet.
    async fn pending(
        &self,
        arn: &str,
        token: &str,
        rotator: &dyn Rotator,
        cx: &StepCx,
    ) -> Result<Option<SecretDoc>, RotationError> {
        let Some(text) = self.store.value(arn, Some(token), AWSPENDING).await? else {
            return Ok(None);
        };
        let format = |error| RotationError::Format {
            arn: arn.to_owned(),
            stage: AWSPENDING,
            error,
        };
        let mut doc = SecretDoc::parse(text.expose(), &cx.redactor).map_err(format)?;
        let same = match &doc.engine {
            Some(engine) => engine == rotator.engine(),
            None => rotator.recognises(&doc),
        };
        if !same {
            return Err(format(FormatError::key(
                "engine",
                format!(
                    "\"{}\", the engine of the AWSCURRENT value",
                    rotator.engine()
                ),
            )));
        }
        rotator.check(&mut doc).map_err(format)?;
        Ok(Some(doc))
    }
}

/// The common password check: length, excluded characters, printable ASCII only.
pub fn check_rules(rules: &PasswordRules, password: &Secret) -> Result<(), String> {
    let p = password.expose();
    let len = p.chars().count() as u32;
    if !(rules.min_length..=rules.max_length).contains(&len) {
        return Err(format!(
            "it is {len} characters long, not {} to {}",
            rules.min_length, rules.max_length
        ));
    }
    if p.chars().any(|c| rules.exclude.contains(c)) {
        return Err(format!("it contains one of {}", rules.exclude));
    }
    if !p.chars().all(|c| c.is_ascii_graphic()) {
        return Err("it contains a character that is not printable ASCII".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
