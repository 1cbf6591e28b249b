//! Id and password rules shared by the Redis-family services (ElastiCache and MemoryDB),
//! checked locally so that bad input fails before any AWS call and never with the value quoted.

use crate::cfn::props::PropsError;
use crate::redact::Secret;

/// The ids ElastiCache and MemoryDB keep for users, user groups and ACLs: a letter, then
/// letters, digits and hyphens, no double hyphen, no trailing hyphen, and **lower case**: both
/// services store ids in lower case, so an id given in mixed case would come back different
/// from the physical id and every later lookup would miss (a Delete would leave the resource
/// behind). CloudFormation's own invented ids fall outside this often enough that it keeps
/// most stray Deletes away from the API.
pub(crate) fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
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
                "{id:?} is not a valid id: start with a lowercase letter, then lowercase \
                 letters, digits and single hyphens, not ending with a hyphen (ElastiCache and \
                 MemoryDB store ids in lower case)"
            ),
        ))
    }
}

/// The password rule of ElastiCache and MemoryDB. Never quotes the password.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_service_rules() {
        for ok in ["a", "app-user", "user1", "a-b-c"] {
            assert!(is_valid_id(ok), "{ok}");
        }
        for bad in [
            "",
            "User1",
            "app-User",
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
}
