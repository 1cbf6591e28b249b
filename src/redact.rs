//! Keeps secrets (passwords, secret values, the pre-signed ResponseURL) out of every string
//! that leaves the process: log lines, `Reason`, error text.
//!
//! Two layers, because either alone leaks: types that hold secrets never print them
//! ([`Secret`], `ResponseUrl`), and every outgoing message passes through a [`Redactor`] that
//! knows the concrete values of the current request, for text we do not control (SDK and serde
//! error messages may quote a value they were given).

use std::fmt;
use std::sync::{Arc, RwLock};

const MASK: &str = "***";

/// A secret string whose `Debug` never shows the value and which has no `Display`.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for the one place that must send it (an SDK call).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// The secret values known for one request. Cheap to clone; shared with the handler task so
/// that values learned late (a password read from Secrets Manager) are masked too.
#[derive(Clone, Default)]
pub struct Redactor {
    values: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, value: &str) {
        // Very short values would mask ordinary words; passwords this short are rejected
        // by validation anyway, and a mask for them would make errors unreadable.
        if value.len() < 4 {
            return;
        }
        // The forms a message may quote the value in besides the raw one: serde's errors
        // quote JSON-escaped, `{:?}` Rust-escaped (`"` as `\"`, `\` as `\\`, controls
        // as `\n` or `\u{1}`), a JSON document holding a message escapes it once more.
        let json = |v: &str| {
            let quoted = serde_json::to_string(v).unwrap_or_default();
            quoted[1..quoted.len().saturating_sub(1).max(1)].to_owned()
        };
        let debug = |v: &str| {
            let quoted = format!("{v:?}");
            quoted[1..quoted.len() - 1].to_owned()
        };
        let forms = [
            value.to_owned(),
            json(value),
            debug(value),
            json(&json(value)),
            debug(&debug(value)),
        ];
        let mut values = self.values.write().unwrap_or_else(|e| e.into_inner());
        for form in forms {
            if !values.contains(&form) {
                values.push(form);
            }
        }
        // Longest first, so a secret that contains another is masked whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Adds every string found under a key that names a password, at any depth of `value`.
    /// Runs on raw properties before they are parsed, so that a parse error quoting a
    /// mistyped password is masked.
    pub fn add_from_properties(&self, value: &serde_json::Value) {
        fn is_secret_key(key: &str) -> bool {
            let k = key.to_ascii_lowercase();
            k.contains("password") && !k.ends_with("arn") && !k.ends_with("required")
                || k.contains("secretstring")
        }
        fn all_strings(value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Array(items) => items.iter().for_each(|v| all_strings(v, out)),
                serde_json::Value::Object(map) => map.values().for_each(|v| all_strings(v, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        let mut stack = vec![value];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        if is_secret_key(k) {
                            all_strings(v, &mut found);
                        } else {
                            stack.push(v);
                        }
                    }
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        for s in found {
            self.add(&s);
        }
    }

    pub fn scrub(&self, text: &str) -> String {
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_owned();
        for v in values.iter() {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_debug_is_masked() {
        let s = Secret::new("Planted-Secret-Value-1234567");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s.expose(), "Planted-Secret-Value-1234567");
    }

    #[test]
    fn scrubs_every_password_leaf_at_any_depth() {
        let r = Redactor::new();
        r.add_from_properties(&json!({
            "UserId": "app-user",
            "Passwords": ["first-password-123456", "second-password-123456"],
            "AuthenticationMode": {"Type": "password", "Passwords": ["nested-password-123456"]},
            "Password": "mq-password-12345",
            "PasswordSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x",
            "NoPasswordRequired": "false"
        }));
        let text = "bad first-password-123456 and nested-password-123456, mq-password-12345 \
                    arn:aws:secretsmanager:us-east-1:1:secret:x app-user false";
        let out = r.scrub(text);
        assert!(!out.contains("first-password"));
        assert!(!out.contains("nested-password"));
        assert!(!out.contains("mq-password"));
        // Non-secret values stay readable.
        assert!(out.contains("arn:aws:secretsmanager:us-east-1:1:secret:x"));
        assert!(out.contains("app-user"));
        assert!(out.contains("false"));
    }

    #[test]
    fn longer_secret_containing_a_shorter_one_is_masked_whole() {
        let r = Redactor::new();
        r.add("abcd");
        r.add("abcdefgh-secret");
        assert_eq!(r.scrub("x abcdefgh-secret y"), "x *** y");
    }

    #[test]
    fn escaped_forms_are_masked_too() {
        let secret = "pa\"ss\\wo\u{1}rd-é-123456";
        let r = Redactor::new();
        r.add(secret);
        let json = serde_json::to_string(secret).unwrap();
        let debug = format!("{secret:?}");
        let twice = serde_json::to_string(&json).unwrap();
        for text in [secret.to_owned(), json, debug, twice] {
            let out = r.scrub(&format!("invalid value: {text}, expected a sequence"));
            assert!(!out.contains("ss"), "{text} -> {out}");
            assert!(
                out.contains("***") && out.contains("expected a sequence"),
                "{out}"
            );
        }
    }

    #[test]
    fn clones_share_values_learned_later() {
        let r = Redactor::new();
        let r2 = r.clone();
        r2.add("learned-late-secret");
        assert_eq!(r.scrub("learned-late-secret"), "***");
    }
}
