//! What a RabbitMQ user's properties must be, checked before any call. User names and
//! passwords follow Amazon MQ's rules (`amazon_mq`); tags and permissions are RabbitMQ's.

use crate::cfn::props::PropsError;
use crate::services::common::amazon_mq::{CLONE_SUFFIX, check_mq_name};
use serde::Deserialize;

/// RabbitMQ keeps user tags as Erlang atoms, which hold at most 255 characters; 64 leaves room
/// and covers every tag RabbitMQ gives a meaning to.
const TAG_MAX: usize = 64;
const TAGS_MAX: usize = 20;
const PERMISSIONS_MAX: usize = 100;
/// RabbitMQ's virtual host names are binaries of any length; AMQP's `Connection.Open` carries
/// at most 255 bytes.
const VHOST_MAX: usize = 255;
/// The prefix of the tags userkeeper writes itself (`ownership`).
pub(super) const RESERVED_TAG_PREFIX: &str = "userkeeper";

/// One `Permissions` entry: what the user may do in one virtual host (RabbitMQ's regexes;
/// `""` matches nothing).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Permission {
    pub virtual_host: String,
    #[serde(default)]
    pub configure: String,
    #[serde(default)]
    pub write: String,
    #[serde(default)]
    pub read: String,
}

/// A user name, leaving room for the alternating rotation's clone.
pub(super) fn check_username(name: &str) -> Result<(), PropsError> {
    check_mq_name("Username", name)?;
    let longest = 100 - CLONE_SUFFIX.len();
    if name.chars().count() > longest {
        return Err(PropsError::field(
            "Username",
            format!("at most {longest} characters: alternating rotation adds \"{CLONE_SUFFIX}\""),
        ));
    }
    if name.ends_with(CLONE_SUFFIX) {
        return Err(PropsError::field(
            "Username",
            format!("must not end in \"{CLONE_SUFFIX}\": that name is the rotation's clone"),
        ));
    }
    Ok(())
}

pub(super) fn check_tags(tags: &[String]) -> Result<(), PropsError> {
    if tags.len() > TAGS_MAX {
        return Err(PropsError::field(
            "Tags",
            format!("at most {TAGS_MAX} tags (got {})", tags.len()),
        ));
    }
    for (i, tag) in tags.iter().enumerate() {
        let ok = (1..=TAG_MAX).contains(&tag.chars().count())
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            return Err(PropsError::field(
                &format!("Tags[{i}]"),
                format!("{tag:?} must be 1 to {TAG_MAX} characters of A-Z a-z 0-9 _ - ."),
            ));
        }
        if tag.starts_with(RESERVED_TAG_PREFIX) {
            return Err(PropsError::field(
                &format!("Tags[{i}]"),
                format!("tags starting with \"{RESERVED_TAG_PREFIX}\" are userkeeper's own"),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_permissions(permissions: &[Permission]) -> Result<(), PropsError> {
    if permissions.len() > PERMISSIONS_MAX {
        return Err(PropsError::field(
            "Permissions",
            format!(
                "at most {PERMISSIONS_MAX} entries (got {})",
                permissions.len()
            ),
        ));
    }
    for (i, p) in permissions.iter().enumerate() {
        let at = |field: &str| format!("Permissions[{i}].{field}");
        let vhost = &p.virtual_host;
        // Bytes: AMQP's `Connection.Open` carries the name as a short string. `.` and `..`
        // are dropped from a URL path, so the management API call would miss its target.
        if vhost.is_empty()
            || vhost.len() > VHOST_MAX
            || vhost.chars().any(char::is_control)
            || vhost == "."
            || vhost == ".."
        {
            return Err(PropsError::field(
                &at("VirtualHost"),
                format!("1 to {VHOST_MAX} bytes, no control characters, not . or .."),
            ));
        }
        if permissions[..i].iter().any(|o| o.virtual_host == *vhost) {
            return Err(PropsError::field(
                &at("VirtualHost"),
                format!("{vhost:?} appears twice: give one entry per virtual host"),
            ));
        }
        for (field, re) in [
            ("Configure", &p.configure),
            ("Write", &p.write),
            ("Read", &p.read),
        ] {
            check_regex(re).map_err(|problem| PropsError::field(&at(field), problem))?;
        }
    }
    Ok(())
}

/// Catches the mistakes any regex dialect refuses: unbalanced groups or classes, a trailing
/// backslash, a quantifier with nothing before it. RabbitMQ compiles permissions with Erlang's
/// `re` (PCRE), whose grammar (lookarounds, possessive quantifiers, `\Q…\E`…) no Rust crate
/// parses exactly; a full check here would refuse patterns RabbitMQ takes. What slips through
/// is refused by RabbitMQ itself (400), and a Create then removes the user it made.
fn check_regex(re: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut in_class = false;
    // Whether the previous item can take a quantifier.
    let mut repeatable = false;
    let mut chars = re.chars().peekable();
    while let Some(c) = chars.next() {
        if in_class {
            match c {
                '\\' if chars.next().is_none() => break,
                ']' => {
                    in_class = false;
                    repeatable = true;
                }
                _ => {}
            }
            continue;
        }
        match c {
            '\\' => {
                if chars.next().is_none() {
                    return Err(format!("{re:?} ends with a lone backslash"));
                }
                repeatable = true;
            }
            '[' => {
                in_class = true;
                // A `]` or `^]` right after `[` is a literal in every dialect.
                if chars.peek() == Some(&'^') {
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                }
            }
            '(' => {
                depth += 1;
                // `(?:`, `(?=` and friends: the `?` is not a quantifier.
                if chars.peek() == Some(&'?') {
                    chars.next();
                }
                repeatable = false;
            }
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("{re:?} closes a group it never opened"))?;
                repeatable = true;
            }
            '|' => repeatable = false,
            '*' | '+' | '?' => {
                if !repeatable {
                    return Err(format!("{re:?} has a {c} with nothing to repeat"));
                }
                // `a*?`, `a++`: lazy and possessive forms.
                if matches!(chars.peek(), Some('?' | '+')) {
                    chars.next();
                }
                repeatable = false;
            }
            '^' | '$' => repeatable = false,
            _ => repeatable = true,
        }
    }
    if in_class {
        return Err(format!("{re:?} opens a [ class it never closes"));
    }
    if depth > 0 {
        return Err(format!("{re:?} opens a ( group it never closes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(vhost: &str, re: &str) -> Permission {
        Permission {
            virtual_host: vhost.into(),
            configure: re.into(),
            write: String::new(),
            read: ".*".into(),
        }
    }

    #[test]
    fn regexes_rabbitmq_takes_pass() {
        for ok in [
            "",
            ".*",
            "^amq\\.gen.*",
            "^(orders|billing)\\..+$",
            "[]a]+",
            "[^]]*",
            "(?:x|y)*?",
            "(?=a)b",
            "a{2,3}",
            "^$",
        ] {
            assert!(check_regex(ok).is_ok(), "{ok}: {:?}", check_regex(ok));
        }
    }

    #[test]
    fn obvious_regex_mistakes_are_named() {
        for (bad, says) in [
            ("(a", "never closes"),
            ("a)", "never opened"),
            ("[a-z", "never closes"),
            ("abc\\", "lone backslash"),
            ("*a", "nothing to repeat"),
            ("a|+", "nothing to repeat"),
            ("(*)", "nothing to repeat"),
        ] {
            let e = check_regex(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn permissions_name_the_entry_and_field() {
        let e = check_permissions(&[perm("/", ".*"), perm("orders", "(")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("Permissions[1].Configure"), "{e}");
        let e = check_permissions(&[perm("a", ""), perm("a", "")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Permissions[1].VirtualHost") && e.contains("twice"),
            "{e}"
        );
        for bad in ["", ".", "..", &"é".repeat(128)] {
            let e = check_permissions(&[perm(bad, "")]).unwrap_err().to_string();
            assert!(e.contains("Permissions[0].VirtualHost"), "{bad}: {e}");
        }
        assert!(check_permissions(&vec![perm("x", ""); 101]).is_err());
    }

    #[test]
    fn tags_and_names() {
        assert!(check_tags(&["management".into(), "monitoring".into()]).is_ok());
        let e = check_tags(&["ok".into(), "userkeeper:owner=x".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("Tags[1]"), "{e}");
        assert!(check_tags(&["has,comma".into()]).is_err());
        assert!(check_tags(&vec!["t".into(); 21]).is_err());
        assert!(check_username("app.user").is_ok());
        assert!(
            check_username("app_clone")
                .unwrap_err()
                .to_string()
                .contains("clone")
        );
        assert!(check_username(&"a".repeat(95)).is_err());
        assert!(check_username("a b").is_err());
        assert!(check_username("..").is_err());
    }
}
