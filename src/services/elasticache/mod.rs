//! Amazon ElastiCache (Redis OSS and Valkey RBAC): `Custom::ElastiCacheUser` and
//! `Custom::ElastiCacheUserGroup`.

mod user;
mod user_group;

pub use user::{User, UserProps};
pub use user_group::{UserGroup, UserGroupProps};

use crate::cfn::props::{PropsError, Tag};
use crate::cfn::{Owner, Provider};
use crate::redact::Secret;
use crate::secrets::{SecretError, Secrets};
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::error::{ProvideErrorMetadata, SdkError};

/// Registers this service's resource types.
pub fn register(provider: &mut Provider, sdk: &aws_config::SdkConfig, secrets: &Secrets) {
    let client = Client::new(sdk);
    provider.register(User::new(client.clone(), secrets.clone()));
    provider.register(UserGroup::new(client));
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("ElastiCache {op} failed: {message}")]
    Api { op: &'static str, message: String },
    #[error(
        "{kind} {id:?} already exists and is not managed by this stack and logical id (it lacks \
         the tags {stack_tag}/{logical_tag} naming them); pick another id, or delete the \
         existing {kind} first"
    , stack_tag = Owner::STACK_TAG, logical_tag = Owner::LOGICAL_TAG)]
    NotOwned { kind: &'static str, id: String },
    #[error(
        "changing {property} replaces the {kind}, and the replacement needs a new {id_property} \
         because ElastiCache identifies a {kind} by its {id_property}; change {id_property} \
         together with {property}"
    )]
    NeedsNewId {
        kind: &'static str,
        property: &'static str,
        id_property: &'static str,
    },
    #[error("{kind} {id:?} does not exist; it may have been deleted outside CloudFormation")]
    Missing { kind: &'static str, id: String },
    #[error(
        "user group {id:?} is still associated with replication group(s) {groups}; remove it \
         from their UserGroupIds (or delete them) before deleting the group"
    )]
    GroupInUse { id: String, groups: String },
    #[error(transparent)]
    Props(#[from] PropsError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// Turns an SDK error into one that says which call failed and why, with the service's code.
fn api<E, R>(op: &'static str, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = match (e.code(), e.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_owned(),
        _ => crate::sdk_error_message(&e),
    };
    Error::Api { op, message }
}

/// Whether `e` is the service error `is` recognises (typed, so it works the same for the
/// service's XML and for errors built in tests).
fn is<E, R>(e: &SdkError<E, R>, is: impl Fn(&E) -> bool) -> bool {
    e.as_service_error().is_some_and(is)
}

/// ElastiCache's rule for user and group ids: a letter, then letters, digits and hyphens,
/// with no double hyphen and no trailing hyphen. CloudFormation's own invented ids contain
/// characters outside it often enough that this keeps most stray Deletes away from the API.
pub(crate) fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !id.contains("--")
        && !id.ends_with('-')
}

pub(crate) fn check_id(property: &str, id: &str) -> Result<(), PropsError> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(PropsError::field(
            property,
            format!(
                "{id:?} is not a valid ElastiCache id: start with a letter, then letters, \
                 digits and single hyphens, not ending with a hyphen"
            ),
        ))
    }
}

/// ElastiCache's (and MemoryDB's) password rule. Never quotes the password.
pub(crate) fn check_password(path: &str, password: &Secret) -> Result<(), PropsError> {
    let p = password.expose();
    let len = p.chars().count();
    if !(16..=128).contains(&len) {
        return Err(PropsError::field(
            path,
            format!("a password must be 16 to 128 characters long (this one has {len})"),
        ));
    }
    if let Some(bad) = p.chars().find(|c| matches!(c, ',' | '"' | '/' | '@')) {
        return Err(PropsError::field(
            path,
            format!("a password must not contain , \" / or @ (this one contains {bad})"),
        ));
    }
    if p.chars().any(char::is_control) {
        return Err(PropsError::field(
            path,
            "a password must contain printable characters only",
        ));
    }
    Ok(())
}

pub(crate) fn check_passwords(path: &str, passwords: &[Secret]) -> Result<(), PropsError> {
    if passwords.is_empty() || passwords.len() > 2 {
        return Err(PropsError::field(
            path,
            format!(
                "give one or two passwords (got {}); a user holds at most two",
                passwords.len()
            ),
        ));
    }
    for (i, p) in passwords.iter().enumerate() {
        check_password(&format!("{path}[{i}]"), p)?;
    }
    Ok(())
}

pub(crate) fn check_tags(tags: &[Tag]) -> Result<(), PropsError> {
    match tags.iter().find(|t| Owner::is_reserved_key(&t.key)) {
        Some(t) => Err(PropsError::field(
            "Tags",
            format!(
                "tag key {:?} is reserved for userkeeper's ownership tags",
                t.key
            ),
        )),
        None => Ok(()),
    }
}

/// The template's tags plus the ownership tags.
fn tags_with_owner(tags: &[Tag], owner: &Owner) -> Vec<aws_sdk_elasticache::types::Tag> {
    owner
        .tags()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(tags.iter().map(|t| (t.key.clone(), t.value.clone())))
        .map(|(k, v)| {
            aws_sdk_elasticache::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

/// Tag operations shared by users and groups (both are addressed by ARN).
struct Tags<'a>(&'a Client);

impl Tags<'_> {
    async fn list(&self, arn: &str) -> Result<Vec<(String, String)>, Error> {
        let out = self
            .0
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| api("ListTagsForResource", e))?;
        Ok(out
            .tag_list()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect())
    }

    async fn owned_by(&self, arn: &str, owner: &Owner) -> Result<bool, Error> {
        let tags = self.list(arn).await?;
        Ok(owner.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
    }

    /// Makes the template's tags match `want`, leaving the ownership tags alone.
    async fn sync(&self, arn: &str, want: &[Tag]) -> Result<(), Error> {
        let have: Vec<(String, String)> = self
            .list(arn)
            .await?
            .into_iter()
            .filter(|(k, _)| !Owner::is_reserved_key(k))
            .collect();
        let remove: Vec<String> = have
            .iter()
            .filter(|(k, _)| !want.iter().any(|t| &t.key == k))
            .map(|(k, _)| k.clone())
            .collect();
        let add: Vec<_> = want
            .iter()
            .filter(|t| !have.iter().any(|(k, v)| k == &t.key && v == &t.value))
            .map(|t| {
                aws_sdk_elasticache::types::Tag::builder()
                    .key(&t.key)
                    .value(&t.value)
                    .build()
            })
            .collect();
        if !remove.is_empty() {
            self.0
                .remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| api("RemoveTagsFromResource", e))?;
        }
        if !add.is_empty() {
            self.0
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(add))
                .send()
                .await
                .map_err(|e| api("AddTagsToResource", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_elasticache_rules() {
        for ok in ["a", "app-user", "User1", "a-b-c"] {
            assert!(is_valid_id(ok), "{ok}");
        }
        for bad in [
            "",
            "1user",
            "-a",
            "a-",
            "a--b",
            "a_b",
            "userkeeper:failed-create:x",
            "arn:aws:x",
        ] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn password_rules_name_the_problem_never_the_password() {
        let short = Secret::new("short-secret");
        let e = check_password("Passwords[0]", &short)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Passwords[0]") && e.contains("16 to 128") && e.contains("12"),
            "{e}"
        );
        assert!(!e.contains("short-secret"));
        let long = Secret::new("x".repeat(129));
        assert!(check_password("p", &long).is_err());
        assert!(check_password("p", &Secret::new("x".repeat(128))).is_ok());
        assert!(check_password("p", &Secret::new("x".repeat(16))).is_ok());
        for c in [',', '"', '/', '@'] {
            let p = Secret::new(format!("abcdefghijklmnop{c}"));
            let e = check_password("p", &p).unwrap_err().to_string();
            assert!(e.contains(&format!("contains {c}")), "{e}");
        }
        let e = check_passwords("Passwords", &[]).unwrap_err().to_string();
        assert!(e.contains("one or two"), "{e}");
        let three = vec![Secret::new("a".repeat(20)); 3];
        assert!(check_passwords("Passwords", &three).is_err());
    }

    #[test]
    fn ownership_tags_are_reserved() {
        let tags = vec![Tag {
            key: "userkeeper:stack-id".into(),
            value: "x".into(),
        }];
        assert!(
            check_tags(&tags)
                .unwrap_err()
                .to_string()
                .contains("reserved")
        );
    }
}
