//! Rotation of Amazon MQ for RabbitMQ user passwords, through the broker's management API.
//!
//! RabbitMQ applies a password change at once and keeps open connections open, but a user has
//! one password, so:
//! - `alternating` (the default) keeps two users, `username` and `username_clone`, and gives
//!   the new password to the one not in AWSCURRENT, with the current user's tags (its record
//!   included) and permissions. The current user is never touched: no login fails.
//! - `single` changes the one user: connections stay up, new logins with the old password fail
//!   until clients read the new secret.
//!
//! Every step is a set of PUTs of the same values, so a retried or repeated step changes
//! nothing more; there is no reboot and nothing to remember between steps.
//!
//! The secret names the broker administrator's secret (`admin_secret_arn`), whose credentials
//! call the management API. Whoever writes the rotated secret chooses it, so the user must
//! name the rotated secret back: its `userkeeper:secret=` tag (`ownership`), which only a
//! broker administrator can write.

use super::broker::{AMQPS_PORT, Broker, Brokers};
use super::management::{Authenticated, Management, Session};
use super::ownership::{self, binding_of, bound_to};
use super::user::{admin, check_not_admin};
use crate::aws::Secrets;
use crate::login::{AmqpLogin, Login, LoginError, Target};
use crate::rotation::{self, FormatError, Outcome, PasswordRules, SecretDoc, ServiceError, StepCx};
use crate::services::common::amazon_mq::{
    self as amazon_mq, BROKER_PASSWORDS, base_user, check_pending, secret_broker_id,
};
use crate::services::error::{Error, RotateError};
use async_trait::async_trait;
use std::sync::Arc;

/// The secret's own key (beside `broker_id`) for RabbitMQ.
const ADMIN_SECRET: &str = "admin_secret_arn";

pub struct Rotator {
    pub(super) brokers: Brokers,
    pub(super) management: Arc<Management>,
    pub(super) secrets: Secrets,
    pub(super) login: Arc<Login>,
}

impl Rotator {
    /// The broker, and a management session as the administrator the secret names, which
    /// must not be either user of the pair.
    async fn session(&self, doc: &SecretDoc, cx: &StepCx) -> Result<(Broker, Session), Error> {
        let broker = self.brokers.running(secret_broker_id(doc), cx).await?;
        let admin_arn = doc.str_key(ADMIN_SECRET).ok().flatten().unwrap_or_default();
        let credentials = admin(&self.secrets, admin_arn, &cx.redactor).await?;
        check_not_admin(&broker.id, base_user(&doc.username), &credentials.username)?;
        let session = self
            .management
            .open(&broker, credentials, admin_arn)
            .await?;
        Ok((broker, session))
    }

    /// Refuses, before any write, a secret that `username`'s pair is not bound to.
    async fn check_bound(
        &self,
        session: &Session,
        broker: &Broker,
        username: &str,
        cx: &StepCx,
    ) -> Result<(), ServiceError> {
        let base = base_user(username);
        let user = session
            .user(base)
            .await?
            .ok_or_else(|| RotateError::NoCurrentBrokerUser {
                broker_id: broker.id.clone(),
                username: base.to_owned(),
            })?;
        if bound_to(&user.tags, cx.secret_arn()) {
            return Ok(());
        }
        let tags = ownership::rebound(&user.tags, cx.secret_arn());
        Err(RotateError::NotBound {
            user: base.to_owned(),
            secret: cx.secret_arn().to_owned(),
            bound: binding_of(&user.tags).map(|d| format!("the secret whose ARN digests to {d}")),
            how: format!(
                "give user {base} the RabbitMQ tag {}, keeping its other tags: its tags become \
                 \"{}\" (the management console's Admin tab, or PUT /api/users/{base} with its \
                 password_hash and that tag list)",
                ownership::secret_tag(cx.secret_arn()),
                tags.join(",")
            ),
        }
        .into())
    }

    /// The user testSecret logs in as can reach: the secret's `host`, else the broker's
    /// AMQP endpoint.
    fn amqp_target<'a>(doc: &'a SecretDoc, broker: &'a Broker) -> Option<Target<'a>> {
        doc.login_target(AMQPS_PORT).or_else(|| {
            broker.amqp.first().map(|(host, port)| Target {
                host,
                port: *port,
                tls: true,
            })
        })
    }
}

#[async_trait]
impl rotation::Rotator for Rotator {
    fn engine(&self) -> &'static str {
        "rabbitmq"
    }

    fn check(&self, doc: &mut SecretDoc) -> Result<(), FormatError> {
        amazon_mq::check_secret(doc)?;
        match doc.str_key(ADMIN_SECRET)? {
            Some(arn) if !arn.is_empty() => Ok(()),
            _ => Err(FormatError::missing(
                ADMIN_SECRET,
                "the ARN (or name) of the secret holding the broker administrator's username \
                 and password",
            )),
        }
    }

    fn rules(&self) -> PasswordRules {
        BROKER_PASSWORDS
    }

    fn check_password(&self, password: &crate::redact::Secret) -> Result<(), String> {
        amazon_mq::check_generated_password(password)
    }

    fn error_code(&self, e: &(dyn std::error::Error + 'static)) -> String {
        crate::services::error::code_of(e)
    }

    fn next_username(&self, current: &SecretDoc) -> String {
        amazon_mq::next_username(current)
    }

    async fn precheck(&self, current: &SecretDoc, cx: &StepCx) -> Result<(), ServiceError> {
        let (broker, session) = self.session(current, cx).await?;
        if session.user(&current.username).await?.is_none() {
            return Err(RotateError::NoCurrentBrokerUser {
                broker_id: broker.id.clone(),
                username: current.username.clone(),
            }
            .into());
        }
        self.check_bound(&session, &broker, &current.username, cx)
            .await
    }

    async fn set(
        &self,
        current: &SecretDoc,
        pending: &SecretDoc,
        cx: &StepCx,
    ) -> Result<Outcome, ServiceError> {
        let id = secret_broker_id(current);
        check_pending(current, pending)?;
        let (broker, session) = self.session(current, cx).await?;
        self.check_bound(&session, &broker, &pending.username, cx)
            .await?;
        let model = session.user(&current.username).await?.ok_or_else(|| {
            RotateError::NoCurrentBrokerUser {
                broker_id: broker.id.clone(),
                username: current.username.clone(),
            }
        })?;
        let user = pending.username.as_str();
        // The other user of the pair, if it exists, must be the one userkeeper made for it
        // (it carries the pair's binding): a user of that name made by someone else is not
        // this secret's to overwrite.
        if user != current.username
            && let Some(partner) = session.user(user).await?
            && !bound_to(&partner.tags, cx.secret_arn())
        {
            return Err(RotateError::NotBound {
                user: user.to_owned(),
                secret: cx.secret_arn().to_owned(),
                bound: binding_of(&partner.tags)
                    .map(|d| format!("the secret whose ARN digests to {d}")),
                how: format!(
                    "user {user} exists and is not the alternate user userkeeper made for {}: \
                     delete or rename it, or rotate with \"strategy\": \"single\"",
                    current.username
                ),
            }
            .into());
        }
        // The same tags (the record included) for both users of a pair: the resource manages
        // them together, and either may be the one clients use.
        session
            .put_user(user, &pending.password, &model.tags)
            .await?;
        if user != current.username {
            let permissions = session.permissions(&current.username).await?;
            session.converge_permissions(user, &permissions).await?;
            return Ok(format!(
                "user {user} on broker {id} has the pending password, with {}'s tags and \
                 permissions on {} virtual host(s); {} is unchanged",
                current.username,
                permissions.len(),
                current.username
            ));
        }
        Ok(format!(
            "user {user} on broker {id} has the pending password (strategy single: new logins \
             with the previous password fail from now)"
        ))
    }

    async fn test(
        &self,
        doc: &SecretDoc,
        _current: &SecretDoc,
        cx: &StepCx,
    ) -> Result<Outcome, ServiceError> {
        let (broker, session) = self.session(doc, cx).await?;
        let user = doc.username.as_str();
        if session.user(user).await?.is_none() {
            return Err(RotateError::NoBrokerUser {
                broker_id: broker.id.clone(),
                username: user.to_owned(),
            }
            .into());
        }
        // A virtual host the user may use: RabbitMQ checks the password before the virtual
        // host, so any will do, and one it may use makes the login a full one.
        let vhost = session
            .permissions(user)
            .await?
            .into_iter()
            .next()
            .map_or_else(|| "/".to_owned(), |p| p.virtual_host);
        let target = Self::amqp_target(doc, &broker);
        if let Some(to) = target {
            cx.logging_in();
            match self.login.amqp(to, &vhost, user, &doc.password).await {
                Ok(how) => {
                    let access = match how {
                        AmqpLogin::Opened => format!("opened virtual host {vhost:?}"),
                        AmqpLogin::NoVhostAccess => {
                            format!("password accepted; no access to virtual host {vhost:?}")
                        }
                    };
                    return Ok(format!(
                        "logged in over AMQP to {}:{} as {user} with the tested password \
                         ({access})",
                        to.host, to.port
                    ));
                }
                Err(e @ (LoginError::Connect { .. } | LoginError::Timeout { .. })) => {
                    tracing::warn!(
                        broker_id = broker.id,
                        username = user,
                        error = %e,
                        "the AMQP endpoint cannot be reached; checking the password through \
                         the management API instead"
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        match self
            .management
            .authenticates(&broker, user, &doc.password)
            .await?
        {
            Authenticated::Yes | Authenticated::YesWithoutManagement => Ok(format!(
                "checked through the management API at {} (no AMQP endpoint reachable{}): user \
                 {user} authenticates with the tested password",
                session.base,
                target.map_or(String::new(), |t| format!(" at {}:{}", t.host, t.port)),
            )),
            Authenticated::Refused(reply) => {
                let url = url::Url::parse(&session.base).ok();
                Err(LoginError::Refused {
                    host: url
                        .as_ref()
                        .and_then(|u| u.host_str().map(str::to_owned))
                        .unwrap_or_else(|| session.base.clone()),
                    port: url.and_then(|u| u.port_or_known_default()).unwrap_or(443),
                    user: user.to_owned(),
                    reply: format!("{reply} (management API)"),
                }
                .into())
            }
        }
    }
}
