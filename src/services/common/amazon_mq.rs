//! What Amazon MQ's two engines share (the ActiveMQ users of `mq`, the RabbitMQ users of
//! `rabbitmq`): the broker lookup, the rules for broker ids, user names and passwords (checked
//! before any call, never quoting a password), and the shape of a rotated secret (a broker id,
//! and the `alternating` strategy's pair of users).

use crate::cfn::props::PropsError;
use crate::error::{ApiError, is};
use crate::redact::Secret;
use crate::rotation::PasswordRules;
use crate::rotation::{FormatError, SecretDoc, check_rules};
use crate::services::error::{Error, RotateError};
use aws_sdk_mq::error::SdkError;
use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;

/// Amazon MQ's password rule for generated passwords (at least 12 characters, no `, : =`);
/// 128 is userkeeper's own ceiling.
pub(crate) const BROKER_PASSWORDS: PasswordRules = PasswordRules {
    min_length: 12,
    max_length: 128,
    exclude: ",:=",
};

/// The alternate user of `alternating` rotation: `<user>_clone`, made by the rotator like the
/// user (groups and console access; RabbitMQ: tags and permissions), and kept like it by the
/// user resource.
pub(crate) const CLONE_SUFFIX: &str = "_clone";

pub(crate) fn is_mq_name(s: &str) -> bool {
    // `..` would pass the character rule, and a URL path drops it as a segment: the call
    // would go to the parent resource.
    s != ".."
        && (2..=100).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

pub(crate) fn check_mq_name(path: &str, s: &str) -> Result<(), PropsError> {
    if is_mq_name(s) {
        Ok(())
    } else {
        Err(PropsError::field(
            path,
            format!("{s:?} must be 2 to 100 characters of A-Z a-z 0-9 - . _ ~"),
        ))
    }
}

/// Amazon MQ's password rule. Never quotes the password.
pub(crate) fn check_mq_password(path: &str, password: &Secret) -> Result<(), PropsError> {
    let p = password.expose();
    let len = p.chars().count();
    if len < 12 {
        return Err(PropsError::field(
            path,
            format!("a broker password needs at least 12 characters (this one has {len})"),
        ));
    }
    let mut distinct: Vec<char> = p.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Err(PropsError::field(
            path,
            "a broker password needs at least 4 different characters",
        ));
    }
    if let Some(bad) = p.chars().find(|c| matches!(c, ',' | ':' | '=')) {
        return Err(PropsError::field(
            path,
            format!("a broker password must not contain , : or = (this one contains {bad})"),
        ));
    }
    Ok(())
}

pub(crate) fn is_broker_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A physical id `<broker id>/<username>`, as both user types issue them.
pub(crate) fn split_user_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('/')
        .filter(|(b, u)| is_broker_id(b) && is_mq_name(u))
}

/// A failed Amazon MQ call.
pub(crate) fn api<E, R>(op: &'static str, e: SdkError<E, R>) -> ApiError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    ApiError::new("Amazon MQ", op, &e)
}

/// The broker, `None` if it does not exist.
pub(crate) async fn describe_broker(
    client: &aws_sdk_mq::Client,
    broker_id: &str,
) -> Result<Option<DescribeBrokerOutput>, Error> {
    match client.describe_broker().broker_id(broker_id).send().await {
        Ok(b) => Ok(Some(b)),
        Err(e) if is(&e, |e| e.is_not_found_exception()) => Ok(None),
        Err(e) => Err(api("DescribeBroker", e).into()),
    }
}

/// The rotated secret's key naming the broker.
pub(crate) const BROKER_ID_KEY: &str = "broker_id";
const ALTERNATING: &str = "alternating";
const SINGLE: &str = "single";

/// The broker the secret names (checked by [`check_secret`] first).
pub(crate) fn secret_broker_id(doc: &SecretDoc) -> &str {
    doc.str_key(BROKER_ID_KEY)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Checks what a rotated secret of either engine holds: the broker id, the strategy (filled in
/// as `alternating`), and a user name that leaves room for the clone.
pub(crate) fn check_secret(doc: &mut SecretDoc) -> Result<(), FormatError> {
    match doc.str_key(BROKER_ID_KEY)? {
        None => {
            return Err(FormatError::missing(
                BROKER_ID_KEY,
                "the Amazon MQ broker id",
            ));
        }
        Some(id) if !is_broker_id(id) => {
            return Err(FormatError::key(
                BROKER_ID_KEY,
                "a broker id like b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9",
            ));
        }
        Some(_) => {}
    }
    match doc.strategy.as_deref() {
        None => doc.strategy = Some(ALTERNATING.into()),
        Some(ALTERNATING | SINGLE) => {}
        Some(_) => {
            return Err(FormatError::key(
                "strategy",
                "\"alternating\" (the default: two users, no downtime) or \"single\"",
            ));
        }
    }
    let longest = if alternating(doc) {
        100 - CLONE_SUFFIX.len()
    } else {
        100
    };
    if !is_mq_name(&doc.username) || base_user(&doc.username).chars().count() > longest {
        return Err(FormatError::key(
            "username",
            format!(
                "2 to {longest} characters of A-Z a-z 0-9 - . _ ~ (alternating adds \
                 \"{CLONE_SUFFIX}\")"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn alternating(doc: &SecretDoc) -> bool {
    doc.strategy.as_deref() != Some(SINGLE)
}

/// The other user of an alternating pair.
pub(crate) fn partner(username: &str) -> String {
    match username.strip_suffix(CLONE_SUFFIX) {
        Some(base) => base.to_owned(),
        None => format!("{username}{CLONE_SUFFIX}"),
    }
}

/// The user of a pair that the custom resource manages.
pub(crate) fn base_user(username: &str) -> &str {
    username.strip_suffix(CLONE_SUFFIX).unwrap_or(username)
}

/// The user the next password is for.
pub(crate) fn next_username(current: &SecretDoc) -> String {
    if alternating(current) {
        partner(&current.username)
    } else {
        current.username.clone()
    }
}

/// Refuses a pending version for another broker or user than the rotation's.
pub(crate) fn check_pending(current: &SecretDoc, pending: &SecretDoc) -> Result<(), RotateError> {
    let broker = secret_broker_id(current);
    if secret_broker_id(pending) != broker
        || (pending.username != next_username(current) && pending.username != current.username)
    {
        return Err(RotateError::OtherBrokerUser {
            current: current.username.clone(),
            broker: broker.to_owned(),
            pending: pending.username.clone(),
            pending_broker: secret_broker_id(pending).to_owned(),
        });
    }
    Ok(())
}

/// Amazon MQ's full password rule, for a generated password.
pub(crate) fn check_generated_password(password: &Secret) -> Result<(), String> {
    check_rules(&BROKER_PASSWORDS, password)?;
    check_mq_password("password", password).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partners_alternate_and_share_a_base() {
        assert_eq!(partner("app"), "app_clone");
        assert_eq!(partner("app_clone"), "app");
        assert_eq!(partner(&partner("a~b")), "a~b");
        assert_eq!(base_user("app_clone"), "app");
        assert_eq!(base_user("app"), "app");
    }

    #[test]
    fn user_ids_both_types_issue() {
        assert_eq!(split_user_id("b-1234/app"), Some(("b-1234", "app")));
        for bad in [
            "app",
            "b-1/a",
            "userkeeper:failed-create:r",
            "arn:aws:mq:x/y:z",
            "/app",
        ] {
            assert!(split_user_id(bad).is_none(), "{bad}");
        }
    }
}
