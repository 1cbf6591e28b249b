//! Which secret may rotate which user. One function serves many secrets, and whoever can
//! write a secret chooses what it names; so a secret rotates a user only if the user is bound
//! to it: a tag on the user (ElastiCache, MemoryDB) or on its broker (Amazon MQ, whose users
//! carry no tags), written by the custom resource that manages the user from its
//! `PasswordSecretArn`, or by the operator for a user made elsewhere. AWS's own rotation
//! functions get the same guarantee by serving exactly one secret and one user each.

use crate::cfn::Owner;
use crate::services::error::{Error, RotateError};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The key naming the bound secret's ARN on an ElastiCache or MemoryDB user.
pub const USER_TAG: &str = "userkeeper:secret";
/// The prefix of the broker tag naming the secret bound to one MQ user.
pub const BROKER_TAG_PREFIX: &str = "userkeeper:secret:";
/// Tag values hold at most this many characters, on all three services.
const TAG_VALUE_MAX: usize = 256;

/// Checks that a secret's ARN fits in a tag value, before anything is changed.
pub(crate) fn check_fits(arn: &str) -> Result<(), Error> {
    if arn.chars().count() > TAG_VALUE_MAX {
        return Err(Error::SecretArnTooLong {
            length: arn.chars().count(),
        });
    }
    Ok(())
}

/// `Ok` if `bound` (the tag's value, if any) names `secret_arn`; else what to add.
pub(crate) fn check(
    user: &str,
    bound: Option<&str>,
    secret_arn: &str,
    how: String,
) -> Result<(), RotateError> {
    if bound == Some(secret_arn) {
        return Ok(());
    }
    Err(RotateError::NotBound {
        user: user.to_owned(),
        secret: secret_arn.to_owned(),
        bound: bound.map(str::to_owned),
        how,
    })
}

/// The compact form of a binding, where a secret's ARN would not fit (an MQ broker tag's value
/// of 256 characters, a RabbitMQ user tag): the first 128 bits of the SHA-256 of the ARN, in
/// hex. 128 bits, because whoever writes a secret must not be able to find another ARN with
/// the same digest.
pub(crate) fn digest(arn: &str) -> String {
    let hash = Sha256::digest(arn.as_bytes());
    hash[..16]
        .iter()
        .fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// An owner in at most `max` characters (where a stack id would not fit): the stack's GUID (the last part of its id, unique where its name is not)
/// and the logical id, or, for a logical id too long to fit, the digest of it. Logical ids
/// hold only letters and digits, so the part never contains a space.
pub(crate) fn owner_value(owner: &Owner, max: usize) -> String {
    let guid = owner.stack_id.rsplit('/').next().unwrap_or(&owner.stack_id);
    let plain = format!("{guid}/{}", owner.logical_id);
    if plain.chars().count() <= max {
        return plain;
    }
    let guid: String = guid.chars().take(max - 34).collect();
    format!("{guid}/#{}", digest(&owner.logical_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf";

    #[test]
    fn only_the_bound_secret_passes() {
        assert!(check("app", Some(ARN), ARN, String::new()).is_ok());
        let e = check("app", None, ARN, "tag it".into())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not bound") && e.contains(ARN) && e.contains("tag it"),
            "{e}"
        );
        let other = "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-XyZ123";
        let e = check("app", Some(other), ARN, String::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains(other), "names the secret it is bound to: {e}");
    }

    #[test]
    fn an_arn_longer_than_a_tag_value_is_refused() {
        assert!(check_fits(ARN).is_ok());
        let long = format!("{ARN}{}", "x".repeat(256));
        assert!(check_fits(&long).unwrap_err().to_string().contains("256"));
    }
}
