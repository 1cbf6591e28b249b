//! What a resource type implements, and what the protocol gives it while it works.

use super::props::{self, Diff, PropsError};
use crate::error::chain;
use crate::redact::Redactor;
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// Prefix of the physical id answered for a failed Create. `:` appears in no id any supported
/// service issues, so a later Delete can recognise the marker and do nothing.
pub const FAILED_CREATE_PREFIX: &str = "userkeeper:failed-create:";

/// The step name for "the change this request makes was sent": a continuation of the request
/// then only waits for it.
pub const CHANGE_SENT: &str = "change-sent";

pub fn failed_create_marker(request_id: &str) -> String {
    format!("{FAILED_CREATE_PREFIX}{request_id}")
}

/// A successful result.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub physical_id: String,
    /// `Fn::GetAtt` attributes.
    pub data: Map<String, Value>,
    /// Mask `Data` in the console and API (set when it carries anything sensitive).
    pub no_echo: bool,
}

/// Who owns a resource: the stack and logical id that created it. Services record it on the
/// resource (as tags, where the service has them) and compare it before adopting or deleting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub stack_id: String,
    pub logical_id: String,
}

impl Owner {
    pub const STACK_TAG: &'static str = "userkeeper:stack-id";
    pub const LOGICAL_TAG: &'static str = "userkeeper:logical-id";

    /// The tags that mark a resource as this owner's.
    pub fn tags(&self) -> [(&'static str, &str); 2] {
        [
            (Self::STACK_TAG, self.stack_id.as_str()),
            (Self::LOGICAL_TAG, self.logical_id.as_str()),
        ]
    }

    /// Whether `tags` (key, value pairs read from the resource) mark it as this owner's.
    pub fn owns<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        let tags: Vec<_> = tags.into_iter().collect();
        self.tags().iter().all(|want| tags.contains(want))
    }

    pub fn is_reserved_key(key: &str) -> bool {
        key.starts_with("userkeeper:")
    }
}

#[derive(Default)]
struct Progress {
    waiting_for: Option<String>,
    created: Option<String>,
    done: BTreeSet<String>,
}

/// The context of one request, handed to the resource's operations.
#[derive(Clone)]
pub struct Cx {
    pub owner: Owner,
    pub request_id: String,
    pub redactor: Redactor,
    work_until: Instant,
    progress: Arc<Mutex<Progress>>,
}

impl Cx {
    pub fn new(owner: Owner, request_id: String, redactor: Redactor, work_until: Instant) -> Self {
        Self {
            owner,
            request_id,
            redactor,
            work_until,
            progress: Arc::default(),
        }
    }

    pub fn work_until(&self) -> Instant {
        self.work_until
    }

    /// Says what the operation is waiting for, so that a timeout can name it.
    pub fn waiting_for(&self, what: impl Into<String>) {
        self.lock().waiting_for = Some(what.into());
    }

    /// Records that this request created the resource with `physical_id`: if the request
    /// then fails, the FAILED response names it so CloudFormation's Delete cleans it up.
    pub fn created(&self, physical_id: impl Into<String>) {
        self.lock().created = Some(physical_id.into());
    }

    pub(crate) fn created_id(&self) -> Option<String> {
        self.lock().created.clone()
    }

    /// Whether `step` was done already, in this invocation or one this request continues.
    pub fn is_done(&self, step: &str) -> bool {
        self.lock().done.contains(step)
    }

    /// Records that `step` is done, so that a continuation of this request does not repeat it.
    pub fn mark_done(&self, step: &str) {
        self.lock().done.insert(step.to_owned());
    }

    pub(crate) fn done_steps(&self) -> BTreeSet<String> {
        self.lock().done.clone()
    }

    /// Restores what an earlier invocation of this request had done.
    pub(crate) fn resume(&self, done: BTreeSet<String>, created: Option<String>) {
        let mut p = self.lock();
        p.done = done;
        if created.is_some() {
            p.created = created;
        }
    }

    pub(crate) fn waiting_for_what(&self) -> Option<String> {
        self.lock().waiting_for.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl crate::wait::Waiting for Cx {
    fn waiting_for(&self, what: String) {
        Cx::waiting_for(self, what);
    }
}

/// A resource type, typed. Implement this; the blanket [`Handler`] impl does the protocol.
#[async_trait]
pub trait Resource: Send + Sync + 'static {
    /// The `ResourceType` this handles, e.g. `Custom::ElastiCacheUser`.
    const TYPE: &'static str;
    type Props: DeserializeOwned + Send + Sync;
    type Error: std::error::Error + ErrorCode + Send + Sync + 'static;

    /// Checks beyond the schema, run before any AWS call.
    fn validate(props: &Self::Props) -> Result<(), PropsError>;
    /// The physical id these properties name. A different id on Update means replacement.
    fn physical_id(props: &Self::Props) -> String;
    /// Whether `id` has the form of an id this type issues. CloudFormation invents ids of its
    /// own during some rollbacks; a Delete of one of those must not touch anything.
    fn could_have_issued(id: &str) -> bool;
    /// The steps this type records with [`Cx::mark_done`]: a continuation's payload naming
    /// any other is refused.
    const STEPS: &'static [&'static str] = &[CHANGE_SENT];

    async fn create(&self, props: Self::Props, cx: &Cx) -> Result<Outcome, Self::Error>;
    /// Brings the resource `id` to `props`, changing only what `diff` says changed.
    async fn update(
        &self,
        id: &str,
        props: Self::Props,
        diff: &Diff,
        cx: &Cx,
    ) -> Result<Outcome, Self::Error>;
    /// Deletes `id` if this stack owns it; absent is success. `props` are the raw properties:
    /// a Delete must work even when they no longer parse, so read them leniently if at all.
    async fn delete(
        &self,
        id: &str,
        props: &Map<String, Value>,
        cx: &Cx,
    ) -> Result<(), Self::Error>;
}

/// One operation, with owned inputs so it can run on its own task.
pub enum Operation {
    Create {
        props: Map<String, Value>,
    },
    Update {
        physical_id: String,
        props: Map<String, Value>,
        old_props: Option<Map<String, Value>>,
    },
    Delete {
        physical_id: String,
        props: Map<String, Value>,
    },
}

/// A failure and the physical id the FAILED response must carry.
#[derive(Debug)]
pub struct Failure {
    pub reason: String,
    /// A short code for metrics (see [`ErrorCode`]).
    pub code: String,
    pub physical_id: String,
}

/// What a resource's error is called in metrics: the AWS service's error code where a call
/// failed, else a userkeeper kind such as `NotOwned`. Never a value from the request.
pub trait ErrorCode {
    fn code(&self) -> String;
}

/// The code of a request whose properties did not parse or validate.
pub const INVALID_PROPERTIES: &str = "InvalidProperties";

/// The object-safe face of a [`Resource`], used by the registry.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    fn resource_type(&self) -> &'static str;
    /// Parses and validates `props` as a Create would, without any AWS call.
    fn check(&self, props: &Map<String, Value>) -> Result<(), PropsError>;
    /// See [`Resource::STEPS`] and [`Resource::could_have_issued`].
    fn steps(&self) -> &'static [&'static str];
    fn could_have_issued(&self, id: &str) -> bool;
    async fn handle(&self, op: Operation, cx: &Cx) -> Result<Outcome, Failure>;
}

fn parse<R: Resource>(raw: &Map<String, Value>) -> Result<R::Props, PropsError> {
    let props: R::Props = props::parse(raw)?;
    R::validate(&props)?;
    Ok(props)
}

#[async_trait]
impl<R: Resource> Handler for R {
    fn resource_type(&self) -> &'static str {
        R::TYPE
    }

    fn check(&self, props: &Map<String, Value>) -> Result<(), PropsError> {
        parse::<R>(props).map(|_| ())
    }

    fn steps(&self) -> &'static [&'static str] {
        R::STEPS
    }

    fn could_have_issued(&self, id: &str) -> bool {
        R::could_have_issued(id)
    }

    async fn handle(&self, op: Operation, cx: &Cx) -> Result<Outcome, Failure> {
        match op {
            Operation::Create { props } => {
                let marker = failed_create_marker(&cx.request_id);
                let props = parse::<R>(&props).map_err(|e| Failure {
                    reason: e.to_string(),
                    code: INVALID_PROPERTIES.into(),
                    physical_id: marker.clone(),
                })?;
                self.create(props, cx).await.map_err(|e| Failure {
                    reason: chain(&e),
                    code: e.code(),
                    physical_id: cx.created_id().unwrap_or(marker),
                })
            }
            Operation::Update {
                physical_id,
                props,
                old_props,
            } => {
                let fail = |reason: String, code: String| Failure {
                    reason,
                    code,
                    physical_id: physical_id.clone(),
                };
                let diff = Diff::new(old_props.as_ref(), &props);
                let props = parse::<R>(&props)
                    .map_err(|e| fail(e.to_string(), INVALID_PROPERTIES.into()))?;
                let new_id = R::physical_id(&props);
                if new_id != physical_id {
                    tracing::info!(
                        old_physical_id = %physical_id,
                        new_physical_id = %new_id,
                        "replacement: creating the new resource; CloudFormation deletes the old one later"
                    );
                    return self
                        .create(props, cx)
                        .await
                        .map_err(|e| fail(chain(&e), e.code()));
                }
                self.update(&physical_id, props, &diff, cx)
                    .await
                    .map_err(|e| fail(chain(&e), e.code()))
            }
            Operation::Delete { physical_id, props } => {
                if physical_id.starts_with(FAILED_CREATE_PREFIX)
                    || !R::could_have_issued(&physical_id)
                {
                    tracing::info!(
                        %physical_id,
                        "nothing to delete: this id was not issued by this resource type"
                    );
                    return Ok(Outcome {
                        physical_id,
                        ..Outcome::default()
                    });
                }
                match self.delete(&physical_id, &props, cx).await {
                    Ok(()) => Ok(Outcome {
                        physical_id,
                        ..Outcome::default()
                    }),
                    Err(e) => Err(Failure {
                        reason: chain(&e),
                        code: e.code(),
                        physical_id,
                    }),
                }
            }
        }
    }
}
