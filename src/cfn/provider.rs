//! Runs one custom-resource request and answers it exactly once, on every path: success,
//! failure, bad input, unknown type, a panic in the handler, and the deadline.

use super::budget::{Budget, Limit};
use super::continuation::{self, Continuation, Continuer};
use super::props;
use super::request::{Request, RequestType};
use super::resource::{
    Cx, Failure, Handler, INVALID_PROPERTIES, Operation, Outcome, Owner, Resource,
    failed_create_marker,
};
use super::responder::{DeliveryError, Responder};
use super::response::{Response, Status};
use crate::metrics;
use crate::redact::Redactor;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use tracing::Instrument;

pub struct Provider {
    handlers: BTreeMap<&'static str, Arc<dyn Handler>>,
    responder: Responder,
    continuer: Option<Arc<dyn Continuer>>,
}

/// What the Lambda runtime tells us about the current invocation.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub deadline: Instant,
    /// The function's own ARN, for continuing a long wait in a new invocation.
    pub function_arn: Option<String>,
}

/// A continuation needs this much work time per invocation to make progress; with less (a
/// function timeout of a few seconds) continuing would only spin.
const MIN_WORK_TO_CONTINUE: Duration = Duration::from_secs(2);

impl Provider {
    pub fn new(responder: Responder) -> Self {
        Self {
            handlers: BTreeMap::new(),
            responder,
            continuer: None,
        }
    }

    /// Lets waits outlast one invocation by invoking the function again (see
    /// [`continuation`]).
    pub fn with_continuer(mut self, continuer: Arc<dyn Continuer>) -> Self {
        self.continuer = Some(continuer);
        self
    }

    pub fn register<R: Resource>(&mut self, resource: R) {
        self.handlers.insert(R::TYPE, Arc::new(resource));
    }

    pub fn resource_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().copied()
    }

    /// What `req` would meet before any work: a known request and resource type, and (for
    /// Create and Update) properties that parse and validate. No AWS call; for tools and
    /// tests that check events offline.
    pub fn check(&self, req: &Request) -> Result<(), String> {
        let request_type = req.request_type()?;
        let handler = self
            .handlers
            .get(req.resource_type.as_str())
            .ok_or_else(|| format!("unsupported ResourceType {:?}", req.resource_type))?;
        props::service_timeout(&req.resource_properties).map_err(|e| e.to_string())?;
        if request_type != RequestType::Delete {
            handler
                .check(&req.resource_properties)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Handles `req` (parsed from `event`) and delivers its response, or hands it on to a new
    /// invocation when its wait outlasts this one.
    ///
    /// Returns the outcome for the invocation result; an error only when the response could
    /// not be delivered, so that Lambda's retry of the event gets another chance to answer.
    pub async fn handle(
        &self,
        event: &Value,
        req: Request,
        inv: &Invocation,
    ) -> Result<Value, DeliveryError> {
        if let Err(why) = req.response_url.check() {
            let e = DeliveryError::NotAllowed(why);
            tracing::error!(error = %e, "custom-resource request refused");
            return Err(e);
        }
        let redactor = Redactor::new();
        redactor.add(req.response_url.expose());
        redactor.add_from_properties(&Value::Object(req.resource_properties.clone()));
        if let Some(old) = &req.old_resource_properties {
            redactor.add_from_properties(&Value::Object(old.clone()));
        }
        let span = tracing::info_span!(
            "custom_resource",
            logical_id = %req.logical_resource_id,
            resource_type = %req.resource_type,
            request_type = %req.request_type_raw,
        );
        self.answer(event, req, inv, redactor)
            .instrument(span)
            .await
    }

    async fn answer(
        &self,
        event: &Value,
        req: Request,
        inv: &Invocation,
        redactor: Redactor,
    ) -> Result<Value, DeliveryError> {
        let received = Instant::now();
        let invocation_left = inv.deadline.saturating_duration_since(received);
        let now_ms = epoch_ms(SystemTime::now());
        let progress = req.continuation.clone().unwrap_or(Continuation {
            started_at_ms: now_ms,
            ..Continuation::default()
        });
        let elapsed = Duration::from_millis(now_ms.saturating_sub(progress.started_at_ms));
        tracing::info!(
            physical_id = req.physical_resource_id.as_deref().unwrap_or(""),
            invocation_ms_left = invocation_left.as_millis() as u64,
            continuation = progress.attempt,
            "custom-resource request received"
        );
        let result = match self.prepare(&req, invocation_left, elapsed, now_ms, &redactor) {
            Ok(Prepared::Run(work)) => {
                let (handler, op, cx, budget) = *work;
                cx.resume(progress.done.clone(), progress.created.clone());
                match run(handler, op, cx).await {
                    Ran::Finished(result) => result,
                    Ran::TimedOut { cx, fallback_id } => {
                        let what = cx
                            .waiting_for_what()
                            .unwrap_or_else(|| "the operation to finish".into());
                        let physical_id = cx.created_id().unwrap_or(fallback_id);
                        let next = Continuation {
                            started_at_ms: progress.started_at_ms,
                            attempt: progress.attempt + 1,
                            done: cx.done_steps(),
                            created: cx.created_id(),
                        };
                        let respond_by = received + budget.respond;
                        match self
                            .continue_later(event, inv, budget, next, &what, respond_by)
                            .await
                        {
                            Ok(value) => return Ok(value),
                            Err(reason) => Err(Failure {
                                reason,
                                code: "Timeout".into(),
                                physical_id,
                            }),
                        }
                    }
                }
            }
            Ok(Prepared::NothingToDo(physical_id)) => Ok(Outcome {
                physical_id,
                ..Outcome::default()
            }),
            Err(failure) => Err(failure),
        };

        let (status, reason, code, outcome) = match result {
            Ok(outcome) => (Status::Success, None, None, outcome),
            Err(Failure {
                reason,
                code,
                physical_id,
            }) => (
                Status::Failed,
                Some(redactor.scrub(&reason)),
                Some(code),
                Outcome {
                    physical_id,
                    ..Outcome::default()
                },
            ),
        };
        match (&reason, &code) {
            (Some(r), Some(code)) => tracing::error!(
                physical_id = %outcome.physical_id,
                error_code = %code,
                reason = %r,
                "FAILED"
            ),
            _ => tracing::info!(physical_id = %outcome.physical_id, "SUCCESS"),
        }
        metrics::emit(
            &metrics::Request {
                resource_type: self
                    .handlers
                    .get_key_value(req.resource_type.as_str())
                    .map_or(metrics::UNKNOWN, |(t, _)| t),
                request_type: req.request_type().map_or(metrics::UNKNOWN, |t| t.as_str()),
                error_code: code.as_deref(),
                duration: Duration::from_millis(
                    epoch_ms(SystemTime::now()).saturating_sub(progress.started_at_ms),
                ),
                continuations: progress.attempt,
            }
            .line(),
        );
        let body = Response {
            status,
            reason,
            physical_resource_id: outcome.physical_id.clone(),
            stack_id: req.stack_id,
            request_id: req.request_id,
            logical_resource_id: req.logical_resource_id,
            no_echo: outcome.no_echo,
            data: outcome.data,
        }
        .render();
        let give_up_at = received + Budget::new(invocation_left, Duration::MAX).respond;
        match self
            .responder
            .put(&req.response_url, body, give_up_at)
            .await
        {
            Ok(attempts) => {
                tracing::info!(attempts, "response delivered");
                Ok(json!({
                    "Status": status,
                    "PhysicalResourceId": outcome.physical_id,
                    "Attempts": attempts,
                }))
            }
            // Final: CloudFormation will not take this response (the URL expired, or the
            // stack stopped waiting). Failing the invocation would only make Lambda run the
            // whole request again, twice, to meet the same refusal.
            Err(DeliveryError::Rejected { status: http }) => {
                tracing::error!(
                    http_status = http,
                    "response refused by the ResponseURL; not retried"
                );
                Ok(json!({
                    "Status": status,
                    "PhysicalResourceId": outcome.physical_id,
                    "Delivered": false,
                    "HttpStatus": http,
                }))
            }
            Err(e) => {
                tracing::error!(error = %e, "response not delivered");
                Err(e)
            }
        }
    }

    /// Hands the request on to a new invocation when the time ran out on this invocation's
    /// deadline with `ServiceTimeout` to spare. `Err` is the FAILED reason otherwise.
    async fn continue_later(
        &self,
        event: &Value,
        inv: &Invocation,
        budget: Budget,
        next: Continuation,
        what: &str,
        respond_by: Instant,
    ) -> Result<Value, String> {
        let timed_out = format!("timed out while waiting for {what}");
        if budget.limited_by == Limit::ServiceTimeout {
            return Err(format!(
                "{timed_out} (the resource's ServiceTimeout is nearly reached; raise \
                 ServiceTimeout, at most 3600 s)"
            ));
        }
        let (Some(continuer), Some(arn)) = (&self.continuer, &inv.function_arn) else {
            return Err(format!(
                "{timed_out} (the function's timeout is nearly reached; raise the Lambda timeout)"
            ));
        };
        if budget.work < MIN_WORK_TO_CONTINUE {
            return Err(format!(
                "{timed_out} (the function's timeout leaves too little time to work; raise the \
                 Lambda timeout, 900 s recommended)"
            ));
        }
        let attempt = next.attempt;
        // Half of what is left for the PUT, so that a Lambda API that does not answer (a VPC
        // with no route to it) still leaves time to answer FAILED.
        let now = Instant::now();
        let invoke_by = now + respond_by.saturating_duration_since(now) / 2;
        let invoked = tokio::time::timeout_at(
            invoke_by,
            continuer.invoke_async(arn, &continuation::next_event(event, &next)),
        )
        .await
        .unwrap_or_else(|_| {
            Err(
                "the Lambda API did not answer in time; a function in a VPC needs a route \
                 to it (a NAT gateway or a lambda interface endpoint)"
                    .into(),
            )
        });
        match invoked {
            Ok(()) => {
                tracing::info!(
                    attempt,
                    waiting_for = what,
                    "still waiting at the invocation's deadline: continuing in a new invocation"
                );
                Ok(json!({ "Continued": true, "Attempt": attempt }))
            }
            Err(e) => Err(format!(
                "{timed_out}, and could not continue in a new invocation ({e}); the function \
                 needs lambda:InvokeFunction on itself"
            )),
        }
    }

    /// Everything that can be checked before work starts. A failure here answers FAILED
    /// without any AWS call.
    fn prepare(
        &self,
        req: &Request,
        invocation_left: Duration,
        elapsed: Duration,
        now_ms: u64,
        redactor: &Redactor,
    ) -> Result<Prepared, Failure> {
        let fallback_id = req
            .physical_resource_id
            .clone()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| failed_create_marker(&req.request_id));
        let fail = |reason: String| Failure {
            reason,
            code: "InvalidRequest".into(),
            physical_id: fallback_id.clone(),
        };
        let request_type = req.request_type().map_err(fail)?;
        let Some(handler) = self.handlers.get(req.resource_type.as_str()) else {
            if request_type == RequestType::Delete {
                // This function never created anything of a type it does not handle (that
                // Create failed with a marker id); failing the Delete would leave the stack in
                // DELETE_FAILED or ROLLBACK_FAILED.
                tracing::info!(
                    "nothing to delete: this function does not handle this resource type"
                );
                return Ok(Prepared::NothingToDo(fallback_id));
            }
            return Err(fail(format!(
                "unsupported ResourceType {:?}; this function handles {}",
                req.resource_type,
                self.resource_types().collect::<Vec<_>>().join(", ")
            )));
        };
        if let Some(progress) = &req.continuation {
            progress
                .check(now_ms, handler.steps(), |id| handler.could_have_issued(id))
                .map_err(|e| {
                    fail(format!(
                        "the event's {} is not valid ({e}); userkeeper writes it only when it \
                         continues a request itself, so this event was altered. Nothing was done",
                        continuation::KEY
                    ))
                })?;
        }
        // A Delete must not fail on a property it does not need.
        let service_timeout = match props::service_timeout(&req.resource_properties) {
            Err(_) if request_type == RequestType::Delete => props::SERVICE_TIMEOUT_DEFAULT,
            other => other.map_err(|e| Failure {
                code: INVALID_PROPERTIES.into(),
                ..fail(e.to_string())
            })?,
        };
        let physical_id = || {
            req.physical_resource_id
                .clone()
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    fail(format!(
                        "PhysicalResourceId is missing from this {} request",
                        request_type.as_str()
                    ))
                })
        };
        let op = match request_type {
            RequestType::Create => Operation::Create {
                props: req.resource_properties.clone(),
            },
            RequestType::Update => Operation::Update {
                physical_id: physical_id()?,
                props: req.resource_properties.clone(),
                old_props: req.old_resource_properties.clone(),
            },
            RequestType::Delete => Operation::Delete {
                physical_id: physical_id()?,
                props: req.resource_properties.clone(),
            },
        };
        let budget = Budget::new(invocation_left, service_timeout.saturating_sub(elapsed));
        let cx = Cx::new(
            Owner {
                stack_id: req.stack_id.clone(),
                logical_id: req.logical_resource_id.clone(),
            },
            req.request_id.clone(),
            redactor.clone(),
            Instant::now() + budget.work,
        );
        Ok(Prepared::Run(Box::new((handler.clone(), op, cx, budget))))
    }
}

enum Prepared {
    Run(Box<(Arc<dyn Handler>, Operation, Cx, Budget)>),
    /// Answer SUCCESS with this physical id; no work, no AWS call.
    NothingToDo(String),
}

enum Ran {
    Finished(Result<Outcome, Failure>),
    /// The work deadline came first; the work was stopped.
    TimedOut {
        cx: Cx,
        fallback_id: String,
    },
}

/// Runs the operation on its own task, so that a panic becomes a FAILED response and the
/// deadline can stop it wherever it is.
async fn run(handler: Arc<dyn Handler>, op: Operation, cx: Cx) -> Ran {
    let fallback_id = match &op {
        Operation::Create { .. } => failed_create_marker(&cx.request_id),
        Operation::Update { physical_id, .. } | Operation::Delete { physical_id, .. } => {
            physical_id.clone()
        }
    };
    let mut task = tokio::spawn({
        let cx = cx.clone();
        async move { handler.handle(op, &cx).await }.in_current_span()
    });
    tokio::select! {
        joined = &mut task => Ran::Finished(match joined {
            Ok(result) => result,
            Err(e) => Err(Failure {
                reason: if e.is_panic() {
                    "internal error: the handler panicked. This is a bug in userkeeper; \
                     please report it with the function's log"
                        .to_owned()
                } else {
                    "internal error: the handler was cancelled".to_owned()
                },
                code: "InternalError".into(),
                physical_id: cx.created_id().unwrap_or(fallback_id),
            }),
        }),
        () = tokio::time::sleep_until(cx.work_until()) => {
            // Stop the work before answering or continuing, so nothing changes behind the
            // answer and two invocations never work on one request at once.
            task.abort();
            let _ = task.await;
            Ran::TimedOut { cx, fallback_id }
        }
    }
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
