//! How a Redis-family user authenticates, once the resource has read it from its properties
//! (each service has its own property shapes and rules), and the passwords it then needs.

use super::binding;
use super::rules::check_passwords;
use crate::aws::Secrets;
use crate::cfn::Cx;
use crate::redact::Secret;
use crate::services::error::Error;
use serde_json::{Map, Value};

/// A user's authentication, resolved from its properties.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Auth {
    Passwords(Vec<Secret>),
    /// The `password` key of this secret's AWSCURRENT value.
    FromSecret(String),
    NoPassword,
    Iam,
}

/// The kind of authentication to send, in the services' terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Password,
    NoPassword,
    Iam,
}

/// What to send, resolved.
pub(crate) struct Resolved {
    pub method: Method,
    pub passwords: Vec<Secret>,
    /// The full ARN of the secret the password came from: the secret the user is bound to.
    pub secret_arn: Option<String>,
}

impl Auth {
    /// What to send: the method, and the passwords (read from the secret if it names one,
    /// and checked like inline ones before any change is made with them).
    /// [`resolve`](Self::resolve), then, unless `keep_previous` is false (the template's
    /// `KeepPreviousPassword`), [`Resolved::keeping_previous`]: what a user's Create or Update
    /// sets.
    pub(crate) async fn resolve_for(
        self,
        keep_previous: Option<bool>,
        old: Option<&Map<String, Value>>,
        secrets: &Secrets,
        cx: &Cx,
    ) -> Result<Resolved, Error> {
        let resolved = self.resolve(secrets, cx).await?;
        Ok(if keep_previous == Some(false) {
            resolved
        } else {
            resolved.keeping_previous(old, secrets, cx).await
        })
    }

    pub(crate) async fn resolve(self, secrets: &Secrets, cx: &Cx) -> Result<Resolved, Error> {
        let (method, passwords, secret_arn) = match self {
            Auth::Passwords(p) => (Method::Password, p, None),
            Auth::FromSecret(arn) => {
                let current = secrets.current(&arn, &cx.redactor).await?;
                let (passwords, arn) = (vec![current.password], current.arn);
                check_passwords("PasswordSecretArn (its password)", &passwords)?;
                binding::check_fits(&arn)?;
                (Method::Password, passwords, Some(arn))
            }
            Auth::NoPassword => (Method::NoPassword, vec![], None),
            Auth::Iam => (Method::Iam, vec![], None),
        };
        Ok(Resolved {
            method,
            passwords,
            secret_arn,
        })
    }
}

impl Resolved {
    /// On an Update that changes where the password comes from (a new secret, new inline
    /// passwords): the user keeps its previous password as its second one, as a rotation
    /// would, so that clients still holding it keep working until they read the new one.
    /// Only when the new source gives one password; the previous one is read leniently from
    /// the old properties (inline, or the old secret's AWSCURRENT) and left out, with a
    /// warning, when it cannot be read.
    pub(crate) async fn keeping_previous(
        mut self,
        old: Option<&Map<String, Value>>,
        secrets: &Secrets,
        cx: &Cx,
    ) -> Self {
        if self.method != Method::Password || self.passwords.len() != 1 {
            return self;
        }
        let Some(old) = old else { return self };
        let previous = match old.get("PasswordSecretArn").and_then(Value::as_str) {
            Some(arn) if !arn.is_empty() => match secrets.current(arn, &cx.redactor).await {
                Ok(current) => Some(current.password),
                Err(e) => {
                    tracing::warn!(
                        error = %cx.redactor.scrub(&e.to_string()),
                        "the previous password could not be read; the user keeps only the new one"
                    );
                    None
                }
            },
            _ => first_string(old.get("Passwords")).or_else(|| {
                first_string(
                    old.get("AuthenticationMode")
                        .and_then(|m| m.get("Passwords")),
                )
            }),
        };
        if let Some(previous) = previous
            && previous != self.passwords[0]
            && check_passwords("the previous password", std::slice::from_ref(&previous)).is_ok()
        {
            self.passwords.push(previous);
        }
        self
    }
}

fn first_string(list: Option<&Value>) -> Option<Secret> {
    match list? {
        Value::Array(items) => items.first()?.as_str().map(Secret::new),
        Value::String(one) => Some(Secret::new(one.as_str())),
        _ => None,
    }
}

/// The passwords as the SDKs take them: `None` for none.
pub(crate) fn exposed(passwords: &[Secret]) -> Option<Vec<String>> {
    (!passwords.is_empty()).then(|| passwords.iter().map(|p| p.expose().to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::Owner;
    use crate::redact::Redactor;
    use serde_json::json;

    fn secrets() -> Secrets {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        Secrets::new(aws_sdk_secretsmanager::Client::new(&sdk))
    }

    fn cx() -> Cx {
        let owner = Owner {
            stack_id: "s".into(),
            logical_id: "L".into(),
        };
        let until = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        Cx::new(owner, "r".into(), Redactor::new(), until)
    }

    fn one(p: &str) -> Resolved {
        Resolved {
            method: Method::Password,
            passwords: vec![Secret::new(p)],
            secret_arn: None,
        }
    }

    #[tokio::test]
    async fn a_new_password_source_keeps_the_previous_password_second() {
        let (s, cx) = (secrets(), cx());
        let old = json!({"Passwords": ["old-sixteen-chars-1", "older-sixteen-chars"]});
        let r = one("new-sixteen-chars-1")
            .keeping_previous(old.as_object(), &s, &cx)
            .await;
        assert_eq!(
            r.passwords,
            [
                Secret::new("new-sixteen-chars-1"),
                Secret::new("old-sixteen-chars-1")
            ]
        );
        let old = json!({"AuthenticationMode": {"Type": "password", "Passwords": ["old-sixteen-chars-2"]}});
        let r = one("new-sixteen-chars-1")
            .keeping_previous(old.as_object(), &s, &cx)
            .await;
        assert_eq!(r.passwords.len(), 2);
    }

    #[tokio::test]
    async fn nothing_to_keep_leaves_one_password() {
        let (s, cx) = (secrets(), cx());
        for old in [
            json!({"Passwords": ["same-sixteen-chars-1"]}),
            json!({"NoPasswordRequired": "true"}),
            json!({"Passwords": ["short"]}),
        ] {
            let r = one("same-sixteen-chars-1")
                .keeping_previous(old.as_object(), &s, &cx)
                .await;
            assert_eq!(r.passwords.len(), 1, "{old}");
        }
        let r = one("new-sixteen-chars-1")
            .keeping_previous(None, &s, &cx)
            .await;
        assert_eq!(r.passwords.len(), 1, "a Create has no previous password");
    }
}
