//! What userkeeper records on a RabbitMQ user it manages: RabbitMQ users have no metadata
//! besides their tags (3.x and 4.x alike; virtual hosts have metadata, users do not), so the
//! record is two user tags, next to the template's own:
//! - `userkeeper:owner=<stack GUID>/<logical id>`: who may change or delete the user;
//! - `userkeeper:secret=<digest of the bound secret's ARN>`: which secret may rotate it.
//!
//! Tags cannot hold a comma (RabbitMQ splits on it) and are kept as Erlang atoms (at most 255
//! characters); both values stay well within that. RabbitMQ gives no meaning to tags it does
//! not know, so they grant nothing. The rotation clone carries its user's tags, these included.

use crate::cfn::Owner;
use crate::services::common::binding;

const OWNER_PREFIX: &str = "userkeeper:owner=";
const SECRET_PREFIX: &str = "userkeeper:secret=";
/// The longest owner value written: with its prefix, far below an atom's 255 characters.
const OWNER_MAX: usize = 160;

pub(super) fn owner_tag(owner: &Owner) -> String {
    format!("{OWNER_PREFIX}{}", binding::owner_value(owner, OWNER_MAX))
}

pub(super) fn secret_tag(secret_arn: &str) -> String {
    format!("{SECRET_PREFIX}{}", binding::digest(secret_arn))
}

/// Whether `tags` (a user's) name `owner`.
pub(super) fn owned_by(tags: &[String], owner: &Owner) -> bool {
    let want = owner_tag(owner);
    tags.contains(&want)
}

/// The owner a user's tags name, if any (for messages).
pub(super) fn owner_of(tags: &[String]) -> Option<&str> {
    tags.iter().find_map(|t| t.strip_prefix(OWNER_PREFIX))
}

/// Whether `tags` bind the user to `secret_arn`.
pub(super) fn bound_to(tags: &[String], secret_arn: &str) -> bool {
    let want = secret_tag(secret_arn);
    tags.contains(&want)
}

/// Whether `tags` bind the user to any secret (for messages).
pub(super) fn binding_of(tags: &[String]) -> Option<&str> {
    tags.iter().find_map(|t| t.strip_prefix(SECRET_PREFIX))
}

/// The template's tags plus the record: what a managed user's tags are.
pub(super) fn with_record(template: &[String], owner: &Owner, secret_arn: &str) -> Vec<String> {
    let mut tags = template.to_vec();
    tags.push(owner_tag(owner));
    tags.push(secret_tag(secret_arn));
    tags
}

/// `tags` bound to `secret_arn` instead of whatever secret they named: every other tag (the
/// owner's included) kept.
pub(super) fn rebound(tags: &[String], secret_arn: &str) -> Vec<String> {
    let mut out: Vec<String> = tags
        .iter()
        .filter(|t| !t.starts_with(SECRET_PREFIX))
        .cloned()
        .collect();
    out.push(secret_tag(secret_arn));
    out
}

/// Whether two tag lists hold the same tags, in any order.
pub(super) fn same_tags(a: &[String], b: &[String]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    a.dedup();
    b.dedup();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf";

    fn owner(logical: &str) -> Owner {
        Owner {
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/0b8e-guid".into(),
            logical_id: logical.into(),
        }
    }

    #[test]
    fn record_round_trips_and_tells_owners_and_secrets_apart() {
        let tags = with_record(&["management".into()], &owner("AppUser"), ARN);
        assert_eq!(tags[1], "userkeeper:owner=0b8e-guid/AppUser");
        assert!(owned_by(&tags, &owner("AppUser")));
        assert!(!owned_by(&tags, &owner("Other")));
        assert!(bound_to(&tags, ARN));
        assert!(!bound_to(&tags, &format!("{ARN}x")));
        assert_eq!(owner_of(&tags), Some("0b8e-guid/AppUser"));
        assert_eq!(binding_of(&tags).map(str::len), Some(32));
        let other = format!("{ARN}-other");
        let moved = rebound(&tags, &other);
        assert!(owned_by(&moved, &owner("AppUser")) && bound_to(&moved, &other));
        assert!(!bound_to(&moved, ARN) && moved.contains(&"management".to_owned()));
        assert!(tags.iter().all(|t| !t.contains(',') && t.len() < 255));
    }

    #[test]
    fn long_logical_ids_fit_an_atom() {
        let tag = owner_tag(&owner(&"L".repeat(255)));
        assert!(tag.len() <= 17 + OWNER_MAX, "{}", tag.len());
    }

    #[test]
    fn tag_sets_compare_unordered() {
        let a = vec!["x".to_owned(), "y".to_owned()];
        assert!(same_tags(&a, &["y".into(), "x".into()]));
        assert!(!same_tags(&a, &["x".into()]));
    }
}
