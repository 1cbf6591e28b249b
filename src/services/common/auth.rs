//! How a Redis-family user authenticates, once the resource has read it from its properties
//! (each service has its own property shapes and rules), and the passwords it then needs.

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

impl Auth {
    /// What to send: the method, and the passwords (read from the secret if it names one,
    /// and checked like inline ones before any change is made with them).
    pub(crate) async fn resolve(
        self,
        secrets: &Secrets,
        cx: &Cx,
    ) -> Result<(Method, Vec<Secret>), Error> {
        Ok(match self {
            Auth::Passwords(p) => (Method::Password, p),
            Auth::FromSecret(arn) => {
                let passwords = vec![secrets.current_password(&arn, &cx.redactor).await?];
                check_passwords("PasswordSecretArn (its password)", &passwords)?;
                (Method::Password, passwords)
            }
            Auth::NoPassword => (Method::NoPassword, vec![]),
            Auth::Iam => (Method::Iam, vec![]),
        })
    }
}

/// The passwords as the SDKs take them: `None` for none.
pub(crate) fn exposed(passwords: &[Secret]) -> Option<Vec<String>> {
    (!passwords.is_empty()).then(|| passwords.iter().map(|p| p.expose().to_owned()).collect())
}
