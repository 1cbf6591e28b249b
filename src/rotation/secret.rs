//! The rotated secret's value (a JSON `SecretString`): what userkeeper reads from it, and the
//! pending value it writes back.
//!
//! Read by hand rather than with a serde derive so that every message names the key and the
//! expected form and never quotes a value (a misplaced password would otherwise end up in
//! the error), and so that keys userkeeper does not know are kept as they are: a secret may
//! carry a connection string or a database name for its applications.

use crate::login::Target;
use crate::redact::{Redactor, Secret};
use serde_json::{Map, Value};

/// What is wrong with a secret's value. Never contains a value from the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct FormatError {
    pub problem: String,
}

impl FormatError {
    pub fn key(key: &str, expected: impl std::fmt::Display) -> Self {
        Self {
            problem: format!("key \"{key}\": expected {expected}"),
        }
    }
    pub fn missing(key: &str, expected: impl std::fmt::Display) -> Self {
        Self {
            problem: format!("key \"{key}\" is missing: expected {expected}"),
        }
    }
}

/// A parsed secret: the keys every engine shares. A service's own keys (`user_id`,
/// `broker_id`, ...) are read by its rotator through [`SecretDoc::str_key`] and
/// [`SecretDoc::bool_key`], so a new service adds no field here.
#[derive(Clone)]
pub struct SecretDoc {
    /// `None` when the secret does not say: a rotator may still recognise its shape
    /// (`Rotator::recognises`).
    pub engine: Option<String>,
    pub username: String,
    pub password: Secret,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: bool,
    pub strategy: Option<String>,
    pub password_length: Option<u32>,
    raw: Map<String, Value>,
}

/// The keys only: the values may be anything, passwords included.
impl std::fmt::Debug for SecretDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretDoc")
            .field("engine", &self.engine)
            .field("keys", &self.raw.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl SecretDoc {
    /// Parses a `SecretString`, teaching `redactor` every value it holds under a password key
    /// before anything can fail.
    pub fn parse(text: &str, redactor: &Redactor) -> Result<Self, FormatError> {
        redactor.add(text);
        let value: Value = serde_json::from_str(text).map_err(|_| FormatError {
            problem: "the value is not JSON: expected an object like {\"engine\": \
                      \"elasticache\", \"user_id\": \"...\", \"username\": \"...\", \
                      \"password\": \"...\"}"
                .into(),
        })?;
        redactor.add_from_properties(&value);
        let Value::Object(raw) = value else {
            return Err(FormatError {
                problem: "the value is JSON but not an object: expected {\"engine\": ..., \
                          \"username\": ..., \"password\": ...}"
                    .into(),
            });
        };
        let password = match raw.get("password") {
            Some(Value::String(p)) if !p.is_empty() => Secret::new(p.clone()),
            Some(_) => return Err(FormatError::key("password", "a non-empty string")),
            None => return Err(FormatError::missing("password", "a string")),
        };
        let username = opt_str(&raw, "username", "a string")?
            .ok_or_else(|| FormatError::missing("username", "a string"))?;
        let port = match raw.get("port") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p > 0)
                    .ok_or_else(|| FormatError::key("port", "a number from 1 to 65535"))?,
            ),
        };
        let password_length = match raw.get("password_length") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| FormatError::key("password_length", "a whole number"))?,
            ),
        };
        Ok(Self {
            engine: opt_str(&raw, "engine", "a string")?,
            username,
            password,
            host: opt_str(&raw, "host", "a host name or IP address")?.filter(|h| !h.is_empty()),
            port,
            tls: opt_bool(&raw, "tls")?.unwrap_or(true),
            strategy: opt_str(&raw, "strategy", "a string")?,
            password_length,
            raw,
        })
    }

    /// A string key of the service's own; `None` when absent (or null).
    pub fn str_key(&self, key: &str) -> Result<Option<&str>, FormatError> {
        match self.raw.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(FormatError::key(key, "a string")),
        }
    }

    /// A boolean key of the service's own (`true` or `"true"`); `None` when absent.
    pub fn bool_key(&self, key: &str) -> Result<Option<bool>, FormatError> {
        opt_bool(&self.raw, key)
    }

    /// The same secret with another password (and, for an alternating strategy, another
    /// user): every other key is kept as it was.
    pub fn with_credentials(&self, username: &str, password: Secret) -> Self {
        let mut next = self.clone();
        next.raw
            .insert("username".into(), Value::String(username.to_owned()));
        next.raw.insert(
            "password".into(),
            Value::String(password.expose().to_owned()),
        );
        next.username = username.to_owned();
        next.password = password;
        next
    }

    /// Where testSecret logs in (`port` defaulting to the service's), if the secret names a
    /// host.
    pub fn login_target(&self, default_port: u16) -> Option<Target<'_>> {
        self.host.as_deref().map(|host| Target {
            host,
            port: self.port.unwrap_or(default_port),
            tls: self.tls,
        })
    }

    /// The JSON to store as the secret's value.
    pub fn to_secret_string(&self) -> Secret {
        Secret::new(Value::Object(self.raw.clone()).to_string())
    }
}

/// The service of an ARN (`arn:aws:elasticache:...` → `elasticache`).
pub fn arn_service(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next() == Some("arn"))
        .then(|| parts.nth(1))
        .flatten()
        .filter(|s| !s.is_empty())
}

/// The resource part of an ARN after `sep` (`...:user:my-user` or `.../user/my-user`).
pub fn arn_resource_name<'a>(arn: &'a str, kind: &str) -> Option<&'a str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    resource
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix(':').or_else(|| r.strip_prefix('/')))
        .filter(|n| !n.is_empty())
}

fn opt_str(
    raw: &Map<String, Value>,
    key: &str,
    expected: &str,
) -> Result<Option<String>, FormatError> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(FormatError::key(key, expected)),
    }
}

fn opt_bool(raw: &Map<String, Value>, key: &str) -> Result<Option<bool>, FormatError> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(FormatError::key(key, "true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<SecretDoc, FormatError> {
        SecretDoc::parse(&v.to_string(), &Redactor::new())
    }

    #[test]
    fn full_secret_with_defaults() {
        let d = parse(
            json!({"engine": "elasticache", "user_id": "app", "username": "app",
                             "password": "p".repeat(20), "host": "h.example", "port": "6380"}),
        )
        .unwrap();
        assert_eq!(d.engine.as_deref(), Some("elasticache"));
        assert_eq!(d.str_key("user_id").unwrap(), Some("app"));
        assert_eq!(d.port, Some(6380));
        assert!(d.tls, "tls defaults to true");
        assert_eq!(d.bool_key("reboot").unwrap(), None);
        assert_eq!(d.strategy, None);
    }

    #[test]
    fn aws_template_secret_parses_without_an_engine() {
        let d = parse(
            json!({"user_arn": "arn:aws:elasticache:eu-west-1:123456789012:user:app",
                             "username": "app", "password": "p".repeat(20)}),
        )
        .unwrap();
        assert_eq!(d.engine, None);
        let arn = d.str_key("user_arn").unwrap().unwrap();
        assert_eq!(arn_service(arn), Some("elasticache"));
        assert_eq!(arn_resource_name(arn, "user"), Some("app"));
        assert_eq!(
            arn_resource_name(
                "arn:aws:memorydb:us-east-1:123456789012:user/my-user",
                "user"
            ),
            Some("my-user")
        );
        assert_eq!(arn_service("not-an-arn"), None);
    }

    #[test]
    fn errors_name_the_key_and_never_the_value() {
        let secret = "hunter2-hunter2-hunter2";
        let cases = [
            (
                json!({"engine": "mq", "password": secret}),
                "key \"username\" is missing",
            ),
            (
                json!({"engine": "mq", "username": "u"}),
                "key \"password\" is missing",
            ),
            (
                json!({"engine": "mq", "username": "u", "password": 5}),
                "key \"password\": expected a non-empty string",
            ),
            (
                json!({"engine": "mq", "username": "u", "password": secret, "port": secret}),
                "key \"port\": expected a number",
            ),
            (
                json!({"engine": "mq", "username": "u", "password": secret, "port": 70000}),
                "key \"port\": expected a number",
            ),
            (
                json!({"engine": "mq", "username": "u", "password": secret, "tls": "yes"}),
                "key \"tls\": expected true or false",
            ),
            (
                json!({"engine": 3, "username": "u", "password": secret}),
                "key \"engine\": expected a string",
            ),
            (json!([secret]), "not an object"),
        ];
        for (value, want) in cases {
            let err = parse(value.clone()).unwrap_err().to_string();
            assert!(err.contains(want), "{value}: {err}");
            assert!(!err.contains(secret), "{err}");
        }
        let err = SecretDoc::parse("{\"password\": \"hunter2-hunter2\"", &Redactor::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not JSON") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn service_keys_are_typed_and_named_never_quoted() {
        let secret = "hunter2-hunter2-hunter2";
        let d = parse(json!({"engine": "mq", "username": "u", "password": secret,
                             "broker_id": 7, "reboot": secret, "user_id": "x"}))
        .unwrap();
        let e = d.str_key("broker_id").unwrap_err().to_string();
        assert_eq!(e, "key \"broker_id\": expected a string");
        let e = d.bool_key("reboot").unwrap_err().to_string();
        assert!(e.contains("\"reboot\"") && !e.contains(secret), "{e}");
        assert_eq!(d.str_key("absent").unwrap(), None);
        let debug = format!("{d:?}");
        assert!(
            !debug.contains(secret) && debug.contains("password"),
            "{debug}"
        );
    }

    #[test]
    fn new_credentials_keep_every_other_key() {
        let d = parse(
            json!({"engine": "mq", "broker_id": "b-1", "username": "app",
                             "password": "a".repeat(16), "dbname": "orders", "port": 61614}),
        )
        .unwrap();
        let next = d.with_credentials("app_clone", Secret::new("b".repeat(16)));
        let v: Value = serde_json::from_str(next.to_secret_string().expose()).unwrap();
        assert_eq!(
            v,
            json!({"engine": "mq", "broker_id": "b-1", "username": "app_clone",
                   "password": "b".repeat(16), "dbname": "orders", "port": 61614})
        );
        assert_eq!(next.username, "app_clone");
    }

    #[test]
    fn parsing_teaches_the_redactor_the_password() {
        let r = Redactor::new();
        let _ = SecretDoc::parse(
            &json!({"engine": "mq", "username": "u", "password": "s3cret-value-123"}).to_string(),
            &r,
        );
        assert_eq!(r.scrub("x s3cret-value-123 y"), "x *** y");
    }
}
