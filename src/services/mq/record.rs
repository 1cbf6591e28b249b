//! What userkeeper records on a broker about a user it manages: MQ users carry no tags, so the
//! record is a broker tag, and a broker holds at most 50 tags of at most 256 characters.
//!
//! Each managed user takes exactly one tag, `userkeeper:user:<Username>` =
//! `<owner> <request id> <binding>`:
//! - `owner`: the stack's GUID and the resource's logical id (who may change or delete it);
//! - `request id`: the last request whose change was sent, so that a redelivered copy of it
//!   never sends the change again (`-` when none was sent, as after an adoption);
//! - `binding`: the first 128 bits of the SHA-256 of the secret the user is bound to, in hex, or
//!   `-` for none. A digest, because a secret's ARN alone can fill a tag value; 128 bits, because
//!   whoever writes a secret must not be able to find another ARN with the same digest.
//!
//! The clone alternating rotation makes shares its user's record. Rotation progress lives on
//! the rotated secret (see the rotator), not on the broker.
//!
//! Why not pack several users into one tag, to reach a broker's 250 users within 50 tags: MQ's
//! tag calls have no compare-and-set, and CloudFormation creates a stack's users in parallel;
//! two writers of one packed tag would silently drop one's ownership record, and a user nobody
//! owns can be neither updated nor deleted. One tag per user is race-free; the limit it sets
//! (50 managed users per broker, less the broker's other tags, each with its rotation clone) is
//! checked before any change, with what to do.
//!
//! Older versions wrote `<owner> <request id>` with the binding in a second tag,
//! `userkeeper:secret:<Username>` = the secret's ARN, and rotation progress in a third,
//! `userkeeper:rotation:<Username>`. Both are still read, and removed at the next write of the
//! record. The second form is also how an operator binds a user made outside userkeeper.

use crate::cfn::Owner;
use crate::services::common::binding::{self, digest};
use std::collections::HashMap;

/// Amazon MQ's quota of tags per broker (AWS's general tagging rules; Amazon MQ quotas).
pub(super) const MAX_BROKER_TAGS: usize = 50;
const OWNER_TAG_PREFIX: &str = "userkeeper:user:";
const LEGACY_ROTATION_PREFIX: &str = "userkeeper:rotation:";
/// The longest owner part written: with a request id (at most 55) and a binding (32) and two
/// spaces, a record stays within a tag value's 256 characters.
const OWNER_MAX: usize = 160;
const NONE: &str = "-";

/// Tag keys cannot hold `~`, which MQ usernames can; `+` never appears in a username, so the
/// mapping stays one-to-one.
fn key_name(username: &str) -> String {
    username.replace('~', "+")
}

/// The key of `username`'s record.
pub(super) fn owner_key(username: &str) -> String {
    format!("{OWNER_TAG_PREFIX}{}", key_name(username))
}

/// The key an operator binds a user made elsewhere with (and older versions wrote).
pub(super) fn operator_binding_key(username: &str) -> String {
    format!("{}{}", binding::BROKER_TAG_PREFIX, key_name(username))
}

/// The key where older versions kept a rotation's progress.
pub(super) fn legacy_rotation_key(username: &str) -> String {
    format!("{LEGACY_ROTATION_PREFIX}{}", key_name(username))
}

/// One user's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Record {
    pub owner: String,
    /// The last request whose change was sent.
    pub request: Option<String>,
    /// The bound secret's digest; `None` in the older form, whose binding is the operator tag.
    pub binding: Option<Binding>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Binding {
    Unbound,
    Digest(String),
}

impl Record {
    pub(super) fn new(owner: &Owner, request: Option<&str>, secret_arn: Option<&str>) -> Self {
        Self {
            owner: binding::owner_value(owner, OWNER_MAX),
            request: request.map(|r| r.chars().take(55).collect()),
            binding: Some(secret_arn.map_or(Binding::Unbound, |a| Binding::Digest(digest(a)))),
        }
    }

    pub(super) fn parse(value: &str) -> Self {
        let mut parts = value.split(' ');
        let owner = parts.next().unwrap_or_default().to_owned();
        let request = parts.next().filter(|r| *r != NONE).map(str::to_owned);
        let binding = parts.next().map(|b| match b {
            NONE => Binding::Unbound,
            d => Binding::Digest(d.to_owned()),
        });
        Self {
            owner,
            request,
            binding,
        }
    }

    pub(super) fn render(&self) -> String {
        let binding = match &self.binding {
            None | Some(Binding::Unbound) => NONE,
            Some(Binding::Digest(d)) => d,
        };
        format!(
            "{} {} {binding}",
            self.owner,
            self.request.as_deref().unwrap_or(NONE)
        )
    }

    pub(super) fn owned_by(&self, owner: &Owner) -> bool {
        self.owner == binding::owner_value(owner, OWNER_MAX)
    }
}

/// A broker's tags, as one `ListTags` returned them.
pub(super) struct BrokerTags(pub HashMap<String, String>);

impl BrokerTags {
    pub(super) fn record(&self, username: &str) -> Option<Record> {
        self.0.get(&owner_key(username)).map(|v| Record::parse(v))
    }

    /// Whether `secret_arn` may rotate `username`: the record's binding, or, for a record in
    /// the older form or no record at all (a user made elsewhere), the operator's tag.
    pub(super) fn bound(&self, username: &str, secret_arn: &str) -> Result<(), Bound> {
        match self.record(username).and_then(|r| r.binding) {
            Some(Binding::Digest(d)) if d == digest(secret_arn) => Ok(()),
            Some(_) => Err(Bound::Managed),
            None => match self.0.get(&operator_binding_key(username)) {
                Some(arn) if arn == secret_arn => Ok(()),
                other => Err(Bound::Operator(other.cloned())),
            },
        }
    }

    /// Room for `username`'s record, before any change: a user already recorded reuses its
    /// tag. `Err` carries how many tags the broker has.
    pub(super) fn room_for(&self, username: &str) -> Result<(), usize> {
        if self.0.contains_key(&owner_key(username)) || self.0.len() < MAX_BROKER_TAGS {
            Ok(())
        } else {
            Err(self.0.len())
        }
    }

    /// The tags of the older form left for `username` (and its rotation clone), to remove once
    /// its record is written in the current form.
    pub(super) fn legacy(&self, username: &str, clone: &str) -> Vec<String> {
        [
            operator_binding_key(username),
            legacy_rotation_key(username),
            legacy_rotation_key(clone),
        ]
        .into_iter()
        .filter(|k| self.0.contains_key(k))
        .collect()
    }
}

/// Why a secret may not rotate a user.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Bound {
    /// A resource manages the user and bound it to another secret, or to none.
    Managed,
    /// No record in the current form: the operator's tag names another secret, or is absent.
    Operator(Option<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf";

    fn owner(logical: &str) -> Owner {
        Owner {
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/app/0b5c-guid".into(),
            logical_id: logical.into(),
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> BrokerTags {
        BrokerTags(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn keys_map_the_tilde_tag_keys_cannot_hold() {
        assert_eq!(owner_key("app.user_1~x"), "userkeeper:user:app.user_1+x");
        assert_ne!(owner_key("a~b"), owner_key("a-b"));
        assert_eq!(legacy_rotation_key("a~b"), "userkeeper:rotation:a+b");
        assert_eq!(operator_binding_key("a~b"), "userkeeper:secret:a+b");
    }

    #[test]
    fn a_record_round_trips_within_a_tag_value() {
        let r = Record::new(&owner("QueueUser"), Some("req-1"), Some(ARN));
        assert_eq!(r.owner, "0b5c-guid/QueueUser");
        assert_eq!(Record::parse(&r.render()), r);
        assert!(r.owned_by(&owner("QueueUser")) && !r.owned_by(&owner("Other")));
        let unbound = Record::new(&owner("QueueUser"), None, None);
        assert_eq!(unbound.render(), "0b5c-guid/QueueUser - -");
        assert_eq!(Record::parse(&unbound.render()), unbound);
        // The longest logical id CloudFormation allows (255), and a long request id.
        let long = Record::new(&owner(&"L".repeat(255)), Some(&"r".repeat(300)), Some(ARN));
        assert!(long.render().chars().count() <= 256, "{}", long.render());
        assert_eq!(Record::parse(&long.render()), long);
        assert!(long.owned_by(&owner(&"L".repeat(255))));
        assert!(!long.owned_by(&owner(&"L".repeat(254))));
    }

    #[test]
    fn the_older_form_still_reads() {
        let r = Record::parse("0b5c-guid/QueueUser req-1");
        assert_eq!(r.request.as_deref(), Some("req-1"));
        assert_eq!(r.binding, None);
        let t = tags(&[
            ("userkeeper:user:app", "0b5c-guid/QueueUser req-1"),
            ("userkeeper:secret:app", ARN),
            ("userkeeper:rotation:app_clone", "tok sent 1"),
        ]);
        assert_eq!(t.bound("app", ARN), Ok(()));
        assert_eq!(
            t.legacy("app", "app_clone"),
            vec![
                "userkeeper:secret:app".to_owned(),
                "userkeeper:rotation:app_clone".to_owned()
            ]
        );
    }

    #[test]
    fn only_the_bound_secret_may_rotate() {
        let rendered = Record::new(&owner("U"), None, Some(ARN)).render();
        let t = tags(&[("userkeeper:user:app", &rendered)]);
        assert_eq!(t.bound("app", ARN), Ok(()));
        assert_eq!(t.bound("app", &format!("{ARN}x")), Err(Bound::Managed));
        // A managed user's record wins over an operator tag naming another secret.
        let other = "arn:aws:secretsmanager:us-east-1:123456789012:secret:evil-AbCdEf";
        let t = tags(&[
            ("userkeeper:user:app", &rendered),
            ("userkeeper:secret:app", other),
        ]);
        assert_eq!(t.bound("app", other), Err(Bound::Managed));
        // Made elsewhere: the operator's tag decides.
        let t = tags(&[("userkeeper:secret:app", ARN)]);
        assert_eq!(t.bound("app", ARN), Ok(()));
        assert_eq!(
            t.bound("app", other),
            Err(Bound::Operator(Some(ARN.to_owned())))
        );
        assert_eq!(tags(&[]).bound("app", ARN), Err(Bound::Operator(None)));
    }

    #[test]
    fn room_is_checked_against_the_broker_quota() {
        let full: Vec<(String, String)> = (0..MAX_BROKER_TAGS)
            .map(|i| (format!("team:{i}"), "x".to_owned()))
            .collect();
        let t = BrokerTags(full.iter().cloned().collect());
        assert_eq!(t.room_for("app"), Err(MAX_BROKER_TAGS));
        let mut almost = full.clone();
        almost.pop();
        assert_eq!(
            BrokerTags(almost.into_iter().collect()).room_for("app"),
            Ok(())
        );
        // A user already recorded reuses its own tag.
        let mut with_app = full;
        with_app[0] = (owner_key("app"), "o - -".to_owned());
        assert_eq!(
            BrokerTags(with_app.into_iter().collect()).room_for("app"),
            Ok(())
        );
    }

    #[test]
    fn digests_are_128_bits_of_hex() {
        let d = digest(ARN);
        assert_eq!(d.len(), 32);
        assert!(d.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(d, digest(&format!("{ARN}x")));
    }
}
