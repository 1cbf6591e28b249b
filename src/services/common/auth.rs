//! How a Redis-family user authenticates, once the resource has read it from its properties
//! (each service has its own property shapes and rules), and the passwords it then needs.

use super::binding;
use super::rules::check_passwords;
use crate::aws::Secrets;
use crate::cfn::Cx;
use crate::redact::Secret;
use crate::services::error::Error;

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

/// The passwords as the SDKs take them: `None` for none.
pub(crate) fn exposed(passwords: &[Secret]) -> Option<Vec<String>> {
    (!passwords.is_empty()).then(|| passwords.iter().map(|p| p.expose().to_owned()).collect())
}
