//! The `two-passwords` rotation strategy, shared by ElastiCache and MemoryDB: a user holds two
//! passwords, so setSecret gives it `[pending, current]` and clients still holding the current
//! password keep working until the next rotation. Each service implements [`PasswordUsers`]
//! for its user resource (the secret's keys, the user's state, the password call) and gets
//! its rotator, [`TwoPasswords`], from here: the steps are the same.

use super::binding;
use super::lifecycle::{self, Kind};
use super::rules::check_password;
use super::tags;
use crate::login::Login;
use crate::redact::Secret;
use crate::rotation::{
    FormatError, Outcome, PasswordRules, Rotator, SecretDoc, ServiceError, StepCx, check_rules,
};
use crate::services::error::RotateError as Error;
use async_trait::async_trait;
use std::sync::Arc;

/// The services reject `, " / @`; `'`, `\` and space are excluded too because they break
/// shell and client quoting.
const RULES: PasswordRules = PasswordRules {
    min_length: 16,
    max_length: 128,
    exclude: ",\"/@'\\",
};

/// Where testSecret logs in when the secret names a host but no port.
const REDIS_PORT: u16 = 6379;

const STRATEGY: &str = "two-passwords";

/// A user as rotation sees it.
pub struct UserState {
    pub status: String,
    /// `password`, `iam`, `no-password`...
    pub auth: String,
    pub password_count: i32,
}

/// One service's users, as rotation needs them.
#[async_trait]
pub trait PasswordUsers: Kind {
    /// The secret's `engine` value.
    const ENGINE: &'static str;
    /// The service's name, for messages.
    const SERVICE: &'static str;
    /// The secret key that names the user (`user_id` or `username`).
    const ID_KEY: &'static str;
    /// The user the secret names (checked by `check_user` first).
    fn id<'a>(&self, doc: &'a SecretDoc) -> &'a str;
    /// Whether a secret without `engine` is this service's (see `Rotator::recognises`).
    fn recognises(&self, _doc: &SecretDoc) -> bool {
        false
    }
    /// Checks the keys that name the user.
    fn check_user(&self, doc: &SecretDoc) -> Result<(), FormatError>;
    fn state(user: &Self::Item) -> UserState;
    /// The one command that binds the user `user_arn` to the secret `secret_arn`.
    fn bind_command(user_arn: &str, secret_arn: &str) -> String;
    /// Sets the user's passwords; `Ok(false)` if the user was busy (its state changed since
    /// the last wait) and the call should be retried after waiting again.
    async fn set_passwords(&self, id: &str, passwords: Vec<String>) -> Result<bool, ServiceError>;
}

/// The `two-passwords` rotator of one service's users.
pub struct TwoPasswords<U> {
    users: U,
    login: Arc<Login>,
}

impl<U: PasswordUsers> TwoPasswords<U> {
    pub(crate) fn new(users: U, login: Arc<Login>) -> Self {
        Self { users, login }
    }

    async fn state(&self, id: &str) -> Result<Option<UserState>, ServiceError> {
        Ok(self.users.describe(id).await?.as_ref().map(U::state))
    }

    async fn wait_active(&self, id: &str, cx: &StepCx) -> Result<UserState, ServiceError> {
        Ok(U::state(
            &lifecycle::wait_active(&self.users, id, cx).await?,
        ))
    }

    /// Refuses, before any write, a secret the user is not bound to.
    async fn check_bound(&self, id: &str, cx: &StepCx) -> Result<(), ServiceError> {
        let user = self
            .users
            .describe(id)
            .await?
            .ok_or_else(|| Error::NoUser {
                id: id.to_owned(),
                service: U::SERVICE,
                key: U::ID_KEY,
            })?;
        let arn = U::arn(&user);
        let bound = tags::get(self.users.tag_api(), arn, binding::USER_TAG, cx).await?;
        let how = U::bind_command(arn, cx.secret_arn());
        Ok(binding::check(id, bound.as_deref(), cx.secret_arn(), how)?)
    }
}

#[async_trait]
impl<U: PasswordUsers> Rotator for TwoPasswords<U> {
    fn engine(&self) -> &'static str {
        U::ENGINE
    }

    fn recognises(&self, doc: &SecretDoc) -> bool {
        self.users.recognises(doc)
    }

    fn check(&self, doc: &mut SecretDoc) -> Result<(), FormatError> {
        self.users.check_user(doc)?;
        check_strategy(doc, U::ENGINE)
    }

    fn rules(&self) -> PasswordRules {
        RULES
    }

    fn check_password(&self, password: &Secret) -> Result<(), String> {
        check_rules(&RULES, password)?;
        check_password("password", password).map_err(|e| e.to_string())
    }

    fn error_code(&self, e: &(dyn std::error::Error + 'static)) -> String {
        crate::services::error::code_of(e)
    }

    async fn precheck(&self, current: &SecretDoc, cx: &StepCx) -> Result<(), ServiceError> {
        let id = self.users.id(current);
        let user = self.state(id).await?.ok_or_else(|| Error::NoUser {
            id: id.to_owned(),
            service: U::SERVICE,
            key: U::ID_KEY,
        })?;
        if user.auth != "password" {
            return Err(Error::NotPasswordUser(id.to_owned(), user.auth).into());
        }
        self.check_bound(id, cx).await
    }

    async fn set(
        &self,
        current: &SecretDoc,
        pending: &SecretDoc,
        cx: &StepCx,
    ) -> Result<Outcome, ServiceError> {
        set(self, current, pending, cx).await
    }

    async fn test(
        &self,
        doc: &SecretDoc,
        current: &SecretDoc,
        cx: &StepCx,
    ) -> Result<Outcome, ServiceError> {
        test(self, doc, current, cx).await
    }
}

/// Checks the secret's `strategy` and fills in the default.
fn check_strategy(doc: &mut SecretDoc, engine: &str) -> Result<(), FormatError> {
    match doc.strategy.as_deref() {
        None => doc.strategy = Some(STRATEGY.into()),
        Some(STRATEGY) => {}
        Some(_) => {
            return Err(FormatError::key(
                "strategy",
                format!("\"{STRATEGY}\" (the only strategy for {engine})"),
            ));
        }
    }
    Ok(())
}

async fn set<U: PasswordUsers>(
    rotator: &TwoPasswords<U>,
    current: &SecretDoc,
    pending: &SecretDoc,
    cx: &StepCx,
) -> Result<Outcome, ServiceError> {
    let id = rotator.users.id(current);
    if rotator.users.id(pending) != id {
        return Err(Error::OtherUser {
            key: U::ID_KEY,
            current: id.to_owned(),
            pending: rotator.users.id(pending).to_owned(),
        }
        .into());
    }
    // Neither service reads passwords back, so only a login can tell that a retried setSecret
    // did its work already; without a host the same list is simply sent again.
    if let Some(to) = pending.login_target(REDIS_PORT) {
        cx.logging_in();
        let login = rotator
            .login
            .redis(to, &pending.username, &pending.password);
        if login.await.is_ok() {
            return Ok(format!(
                "user {id} accepts the pending password already (login to {}:{}): nothing to \
                 set",
                to.host, to.port
            ));
        }
    }
    let user = rotator.wait_active(id, cx).await?;
    if user.auth != "password" {
        return Err(Error::NotPasswordUser(id.to_owned(), user.auth).into());
    }
    rotator.check_bound(id, cx).await?;
    let passwords = vec![
        pending.password.expose().to_owned(),
        current.password.expose().to_owned(),
    ];
    while !rotator.users.set_passwords(id, passwords.clone()).await? {
        rotator.wait_active(id, cx).await?;
    }
    rotator.wait_active(id, cx).await?;
    Ok(format!(
        "user {id} now has the pending and the current password; the current one keeps \
         working until the next rotation"
    ))
}

async fn test<U: PasswordUsers>(
    rotator: &TwoPasswords<U>,
    doc: &SecretDoc,
    current: &SecretDoc,
    cx: &StepCx,
) -> Result<Outcome, ServiceError> {
    let id = rotator.users.id(doc);
    if let Some(to) = doc.login_target(REDIS_PORT) {
        cx.logging_in();
        rotator
            .login
            .redis(to, &doc.username, &doc.password)
            .await?;
        return Ok(format!(
            "logged in to {}:{} as {} with the tested password",
            to.host, to.port, doc.username
        ));
    }
    if rotator.state(id).await?.is_none() {
        return Err(Error::NoUser {
            id: id.to_owned(),
            service: U::SERVICE,
            key: U::ID_KEY,
        }
        .into());
    }
    // A user busy with another change (testSecret alone, right after a change) is waited for:
    // its password count is only meaningful once it is active.
    let user = rotator.wait_active(id, cx).await?;
    let want = if doc.password == current.password {
        1
    } else {
        2
    };
    if user.status != "active" || user.auth != "password" || user.password_count < want {
        return Err(Error::NotSet {
            id: id.to_owned(),
            status: format!("{} ({} authentication)", user.status, user.auth),
            count: user.password_count,
            want,
        }
        .into());
    }
    tracing::info!(
        user = id,
        "no host in the secret, so no login was tried; checked through the {} API",
        U::SERVICE
    );
    Ok(format!(
        "no login tried (no host in the secret); user {id} is active with {} password(s) per \
         the {} API",
        user.password_count,
        U::SERVICE
    ))
}
