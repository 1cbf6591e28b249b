//! Rotation of Amazon MQ (ActiveMQ) user passwords.
//!
//! An MQ user has one password, and a change goes live only when the broker reboots. So:
//! - `alternating` (the default) keeps two users, `username` and `username_clone`, and gives
//!   the new password to the one not in AWSCURRENT (creating the clone on first use with the
//!   same groups and console access). The current user is never touched: no downtime.
//! - `single` changes the one user: clients holding the old password fail from the reboot
//!   that applies the change until they read the new secret.
//!
//! With `"reboot": true` setSecret reboots the broker to apply the change, at most once per
//! rotation token; without it the change waits for the next reboot or maintenance window and
//! testSecret fails until then, so AWSCURRENT never moves to a password that does not work yet.
//!
//! What setSecret has done for a token is recorded as a tag on the rotated secret itself,
//! `userkeeper:rotation` = `<token> sent|reboot <unix seconds>`, written *before* the reboot
//! call: MQ cannot tell whether a pending change holds our password, and a retry must neither
//! send the change again nor reboot again. On the secret, not the broker: a broker's 50 tags
//! are for its users' records (see `record`), and one secret rotates one user.

use super::api;
use super::broker::Brokers;
use super::record::{self, Bound, BrokerTags};
use crate::aws::Secrets;
use crate::login::Login;
use crate::redact::Secret;
use crate::rotation::{self, FormatError, Outcome, PasswordRules, SecretDoc, ServiceError, StepCx};
use crate::services::common::amazon_mq::{
    self as amazon_mq, BROKER_PASSWORDS, check_pending, secret_broker_id as broker_id,
};
use crate::services::error::RotateError;
use async_trait::async_trait;
use aws_sdk_mq::types::ChangeType;
use std::sync::Arc;

/// Amazon MQ's STOMP endpoint (`stomp+ssl`), where testSecret logs in by default.
const STOMP_TLS_PORT: u16 = 61614;
/// The rotated secret's tag recording setSecret's progress.
pub(super) const PROGRESS_TAG: &str = "userkeeper:rotation";
const SENT: &str = "sent";
const REBOOT: &str = "reboot";
/// The secret's own key (beside `broker_id`) for ActiveMQ.
const REBOOT_KEY: &str = "reboot";

pub struct Rotator {
    pub(super) brokers: Brokers,
    pub(super) secrets: Secrets,
    pub(super) login: Arc<Login>,
}

/// Whether the secret lets setSecret reboot the broker.
fn may_reboot(doc: &SecretDoc) -> bool {
    doc.bool_key(REBOOT_KEY).ok().flatten().unwrap_or(false)
}

/// What the tag says was done for `token` (nothing, the change sent, or the reboot asked
/// for) and when, in Unix seconds.
fn progress<'a>(tag: Option<&'a str>, token: &str) -> Option<(&'a str, u64)> {
    let mut parts = tag?.split(' ');
    let tagged = parts.next()?;
    let phase = parts.next()?;
    let at = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
    (tagged == token.chars().take(200).collect::<String>()).then_some((phase, at))
}

fn tag_value(token: &str, phase: &str) -> String {
    // Tag values hold 256 characters; Secrets Manager's tokens are 32 to 64.
    format!(
        "{} {phase} {}",
        token.chars().take(200).collect::<String>(),
        now_secs()
    )
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How long after asking for a reboot a running broker that still has the change pending is
/// taken to be one whose reboot never started (the function died between recording it and
/// calling RebootBroker). Well beyond the moment a started reboot shows in the broker's state.
const REBOOT_GRACE_SECS: u64 = 120;

impl Rotator {
    /// Refuses, before any write, a secret that `username`'s pair is not bound to (the pair
    /// shares its user's record on the broker). Answers the broker's tags, read for it.
    async fn check_bound(
        &self,
        broker_arn: &str,
        username: &str,
        cx: &StepCx,
    ) -> Result<BrokerTags, ServiceError> {
        let base = amazon_mq::base_user(username);
        let tags = self.brokers.tags(broker_arn).await?;
        let (bound, how) = match tags.bound(base, cx.secret_arn()) {
            Ok(()) => return Ok(tags),
            Err(Bound::Managed) => (
                Some("another secret, or none, by the custom resource managing it".to_owned()),
                "a user managed by a custom resource is bound to its PasswordSecretArn: set \
                 that property to this secret"
                    .to_owned(),
            ),
            Err(Bound::Operator(other)) => (
                other,
                format!(
                    "tag its broker: aws mq create-tags --resource-arn {broker_arn} --tags {}={}",
                    record::operator_binding_key(base),
                    cx.secret_arn()
                ),
            ),
        };
        Err(RotateError::NotBound {
            user: base.to_owned(),
            secret: cx.secret_arn().to_owned(),
            bound,
            how,
        }
        .into())
    }

    /// Records setSecret's progress for this token on the secret.
    async fn record(&self, cx: &StepCx, phase: &str) -> Result<(), ServiceError> {
        let value = tag_value(&cx.token, phase);
        Ok(self
            .secrets
            .set_tag(cx.secret_arn(), PROGRESS_TAG, value)
            .await?)
    }

    /// Gives `pending.username` the pending password: an update, or (first use of the clone)
    /// a new user with the current user's groups and console access.
    async fn send_change(
        &self,
        current: &SecretDoc,
        pending: &SecretDoc,
    ) -> Result<(), ServiceError> {
        let broker_id = broker_id(current);
        let exists = self
            .brokers
            .user(broker_id, &pending.username)
            .await?
            .is_some();
        if exists {
            self.brokers
                .client
                .update_user()
                .broker_id(broker_id)
                .username(&pending.username)
                .password(pending.password.expose())
                .send()
                .await
                .map_err(|e| api("UpdateUser", e))?;
            return Ok(());
        }
        let model = self
            .brokers
            .client
            .describe_user()
            .broker_id(broker_id)
            .username(&current.username)
            .send()
            .await
            .map_err(|e| api("DescribeUser", e))?;
        tracing::info!(
            broker_id,
            username = pending.username,
            "creating the alternate user with the current user's groups and console access"
        );
        self.brokers
            .client
            .create_user()
            .broker_id(broker_id)
            .username(&pending.username)
            .password(pending.password.expose())
            .set_console_access(model.console_access())
            .set_groups(Some(model.groups().to_vec()).filter(|g| !g.is_empty()))
            .send()
            .await
            .map_err(|e| api("CreateUser", e))?;
        Ok(())
    }
}

#[async_trait]
impl rotation::Rotator for Rotator {
    fn engine(&self) -> &'static str {
        "mq"
    }

    fn check(&self, doc: &mut SecretDoc) -> Result<(), FormatError> {
        doc.bool_key(REBOOT_KEY)?;
        amazon_mq::check_secret(doc)
    }

    fn rules(&self) -> PasswordRules {
        BROKER_PASSWORDS
    }

    fn check_password(&self, password: &Secret) -> Result<(), String> {
        amazon_mq::check_generated_password(password)
    }

    fn error_code(&self, e: &(dyn std::error::Error + 'static)) -> String {
        crate::services::error::code_of(e)
    }

    fn next_username(&self, current: &SecretDoc) -> String {
        amazon_mq::next_username(current)
    }

    async fn precheck(&self, current: &SecretDoc, cx: &StepCx) -> Result<(), ServiceError> {
        let id = broker_id(current);
        let broker = self.brokers.activemq(id).await?;
        if self.brokers.user(id, &current.username).await?.is_none() {
            return Err(RotateError::NoCurrentBrokerUser {
                broker_id: id.to_owned(),
                username: current.username.clone(),
            }
            .into());
        }
        self.check_bound(broker.broker_arn().unwrap_or(id), &current.username, cx)
            .await?;
        Ok(())
    }

    async fn set(
        &self,
        current: &SecretDoc,
        pending: &SecretDoc,
        cx: &StepCx,
    ) -> Result<Outcome, ServiceError> {
        let id = broker_id(current);
        check_pending(current, pending)?;
        let user = pending.username.as_str();
        self.brokers.activemq(id).await?;
        // MQ refuses user changes while the broker reboots.
        let broker = self.brokers.wait_running(id, cx).await?;
        let arn = broker.broker_arn().unwrap_or(id);
        let mut tags = self.check_bound(arn, user, cx).await?;
        // Older versions kept the progress on the broker; a rotation under way across an
        // upgrade reads it there (the user resource's next write removes that tag: rotation
        // may not delete broker tags).
        let legacy = tags.0.remove(&record::legacy_rotation_key(user));
        let mut phase = progress(cx.secret_tag(PROGRESS_TAG), &cx.token)
            .or_else(|| progress(legacy.as_deref(), &cx.token))
            .map(|(p, at)| (p.to_owned(), at));
        if phase.is_none() {
            self.send_change(current, pending).await?;
            self.record(cx, SENT).await?;
            phase = Some((SENT.into(), now_secs()));
        }

        let change = self.brokers.user(id, user).await?.flatten();
        let Some(change) = change else {
            return Ok(format!(
                "user {user} on broker {id} runs with the pending password"
            ));
        };
        if !may_reboot(pending) {
            return Ok(format!(
                "sent the pending password for user {user}; the change ({}) goes live at the \
                 broker's next reboot or maintenance window, and testSecret fails until then \
                 (set \"reboot\": true in the secret to reboot now)",
                change.as_str()
            ));
        }
        // The broker runs (waited for above) and still has the change: a recorded reboot is
        // either not visible yet or never started; only the second, after a grace period,
        // warrants asking again.
        let reboot = match &phase {
            Some((p, at)) if p == REBOOT => now_secs().saturating_sub(*at) > REBOOT_GRACE_SECS,
            _ => true,
        };
        if reboot {
            // Recorded first, so that a retry after a crash between the two calls waits for
            // the reboot that did start instead of starting another.
            self.record(cx, REBOOT).await?;
            tracing::info!(
                broker_id = id,
                username = user,
                "rebooting the broker to apply the rotated password"
            );
            if let Err(e) = self.brokers.reboot(id).await {
                // No reboot started: say so, so that the retry asks again.
                self.record(cx, SENT).await?;
                return Err(Box::new(e));
            }
        }
        self.brokers.wait_applied(id, user, cx).await?;
        Ok(format!(
            "rebooted broker {id} once for this rotation; user {user} runs with the pending \
             password"
        ))
    }

    async fn test(
        &self,
        doc: &SecretDoc,
        _current: &SecretDoc,
        cx: &StepCx,
    ) -> Result<Outcome, ServiceError> {
        let id = broker_id(doc);
        let user = doc.username.as_str();
        match self.brokers.user(id, user).await? {
            None => {
                return Err(RotateError::NoBrokerUser {
                    broker_id: id.to_owned(),
                    username: user.to_owned(),
                }
                .into());
            }
            Some(Some(change)) => {
                return Err(RotateError::Pending {
                    broker_id: id.to_owned(),
                    username: user.to_owned(),
                    change: ChangeType::as_str(&change).to_owned(),
                }
                .into());
            }
            Some(None) => {}
        }
        if let Some(to) = doc.login_target(STOMP_TLS_PORT) {
            cx.logging_in();
            self.login.stomp(to, user, &doc.password).await?;
            return Ok(format!(
                "logged in to {}:{} (STOMP) as {user} with the tested password",
                to.host, to.port
            ));
        }
        tracing::info!(
            broker_id = id,
            username = user,
            "no host in the secret, so no login was tried; checked through the Amazon MQ API"
        );
        Ok(format!(
            "no login tried (no host in the secret); user {user} exists on broker {id} with no \
             pending change per the Amazon MQ API"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_per_token() {
        let tag = tag_value("tok-1", REBOOT);
        let (phase, at) = progress(Some(&tag), "tok-1").unwrap();
        assert_eq!(phase, REBOOT);
        assert!(now_secs() - at < 5);
        assert_eq!(progress(Some(&tag), "tok-2"), None);
        assert_eq!(progress(None, "tok-1"), None);
    }
}
