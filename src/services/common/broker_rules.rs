//! Amazon MQ's rules for broker ids, user names and passwords, shared by both engines (the
//! ActiveMQ users of `mq` and the RabbitMQ users of `rabbitmq`), checked before any call and
//! never quoting a password.

use crate::cfn::props::PropsError;
use crate::redact::Secret;
use crate::rotation::PasswordRules;

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
    (2..=100).contains(&s.chars().count())
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
