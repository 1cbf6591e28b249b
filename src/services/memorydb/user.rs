//! `Custom::MemoryDBUser`.

use super::api;
use crate::aws::Lazy;
use crate::aws::Secrets;
use crate::cfn::props::{Diff, PropsError, Tag, flex_bool_opt};
use crate::cfn::{Cx, Outcome, Resource};
use crate::error::is;
use crate::redact::Secret;
use crate::services::common::auth::{self, Auth, Method};
use crate::services::common::binding;
use crate::services::common::lifecycle::{self, Kind};
use crate::services::common::rules::{check_id, check_passwords, is_valid_id};
use crate::services::common::tags::{self, check_tags};
use crate::services::error::Error;
use async_trait::async_trait;
use aws_sdk_memorydb::Client;
use aws_sdk_memorydb::types::{AuthenticationMode, InputAuthenticationType};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct UserProps {
    pub user_name: String,
    pub access_string: String,
    #[serde(default)]
    pub authentication_mode: Option<AuthModeProp>,
    #[serde(default)]
    pub password_secret_arn: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// On an Update that changes the password source, keep the previous password as the
    /// user's second one (default true).
    #[serde(default, deserialize_with = "flex_bool_opt")]
    pub keep_previous_password: Option<bool>,
    /// Take over an existing resource made outside userkeeper (default false): it is tagged
    /// as this resource's, brought to the template, and deleted by its Delete.
    #[serde(default, deserialize_with = "flex_bool_opt")]
    pub adopt: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AuthModeProp {
    pub r#type: AuthType,
    #[serde(default)]
    pub passwords: Option<Vec<Secret>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    Password,
    Iam,
}

/// Properties that decide authentication: re-set only when one of them changed, so that an
/// unchanged template never reverts a password that rotation has changed since.
const AUTH_PROPERTIES: [&str; 2] = ["AuthenticationMode", "PasswordSecretArn"];

impl UserProps {
    fn auth(&self) -> Result<Auth, PropsError> {
        let secret = self
            .password_secret_arn
            .as_deref()
            .filter(|s| !s.is_empty());
        let mode = self.authentication_mode.as_ref();
        match (mode.map(|m| m.r#type), mode.and_then(|m| m.passwords.as_ref()), secret) {
            (Some(AuthType::Iam), None, None) => Ok(Auth::Iam),
            (Some(AuthType::Iam), _, _) => Err(PropsError(
                "AuthenticationMode.Type iam takes no passwords; remove AuthenticationMode.Passwords \
                 and PasswordSecretArn"
                    .into(),
            )),
            (_, Some(_), Some(_)) => Err(PropsError(
                "PasswordSecretArn and AuthenticationMode.Passwords are exclusive: keep the \
                 password in the secret or in the template, not both"
                    .into(),
            )),
            (_, Some(p), None) => {
                check_passwords("AuthenticationMode.Passwords", p)?;
                Ok(Auth::Passwords(p.clone()))
            }
            (_, None, Some(arn)) => Ok(Auth::FromSecret(arn.to_owned())),
            (_, None, None) => Err(PropsError(
                "a password user needs AuthenticationMode.Passwords or PasswordSecretArn (or set \
                 AuthenticationMode.Type to iam)"
                    .into(),
            )),
        }
    }
}

pub struct User {
    /// Also the rotator's (`rotator.rs`).
    pub(super) client: Lazy<Client>,
    secrets: Secrets,
}

impl User {
    pub fn new(client: impl Into<Lazy<Client>>, secrets: Secrets) -> Self {
        Self {
            client: client.into(),
            secrets,
        }
    }

    /// The authentication to send, and the secret it binds the user to. `old`: on an Update,
    /// the old properties, whose password the user keeps as its second one unless
    /// `KeepPreviousPassword` is false.
    async fn authentication_mode(
        &self,
        props: &UserProps,
        old: Option<&Map<String, Value>>,
        cx: &Cx,
    ) -> Result<(AuthenticationMode, Option<String>), Error> {
        let auth::Resolved {
            method,
            passwords,
            secret_arn,
        } = props
            .auth()?
            .resolve_for(props.keep_previous_password, old, &self.secrets, cx)
            .await?;
        let mode = AuthenticationMode::builder()
            .r#type(match method {
                Method::Iam => InputAuthenticationType::Iam,
                // MemoryDB users always authenticate; `auth()` never yields NoPassword here.
                Method::Password | Method::NoPassword => InputAuthenticationType::Password,
            })
            .set_passwords(auth::exposed(&passwords))
            .build();
        Ok((mode, secret_arn))
    }
}

#[async_trait]
impl Kind for User {
    type Item = aws_sdk_memorydb::types::User;
    type Tags = Client;
    const NOUN: &'static str = "user";
    const ID_WORD: &'static str = "name";

    async fn describe(&self, name: &str) -> Result<Option<Self::Item>, Error> {
        match self.client.describe_users().user_name(name).send().await {
            Ok(out) => Ok(out.users().iter().find(|u| u.name() == Some(name)).cloned()),
            Err(e) if is(&e, |e| e.is_user_not_found_fault()) => Ok(None),
            Err(e) => Err(api("DescribeUsers", e).into()),
        }
    }
    fn status(user: &Self::Item) -> &str {
        user.status().unwrap_or("unknown")
    }
    fn arn(user: &Self::Item) -> &str {
        user.arn().unwrap_or_default()
    }
    fn tag_api(&self) -> &Client {
        &self.client
    }
}

fn outcome(user: &aws_sdk_memorydb::types::User) -> Outcome {
    let mut data = Map::new();
    data.insert("Arn".into(), json!(user.arn().unwrap_or_default()));
    data.insert("UserName".into(), json!(user.name().unwrap_or_default()));
    data.insert("Status".into(), json!(user.status().unwrap_or_default()));
    data.insert(
        "MinimumEngineVersion".into(),
        json!(user.minimum_engine_version().unwrap_or_default()),
    );
    Outcome {
        physical_id: user.name().unwrap_or_default().to_owned(),
        data,
        no_echo: false,
    }
}

#[async_trait]
impl Resource for User {
    const TYPE: &'static str = "Custom::MemoryDBUser";
    type Props = UserProps;
    type Error = Error;

    fn validate(props: &UserProps) -> Result<(), PropsError> {
        check_id("UserName", &props.user_name)?;
        check_tags(&props.tags)?;
        props.auth().map(|_| ())
    }

    fn physical_id(props: &UserProps) -> String {
        props.user_name.clone()
    }

    fn could_have_issued(id: &str) -> bool {
        is_valid_id(id)
    }

    async fn create(&self, props: UserProps, cx: &Cx) -> Result<Outcome, Error> {
        let name = props.user_name.as_str();
        let made = lifecycle::create_once(self, name, props.adopt == Some(true), cx, || async {
            let (mode, bound) = self.authentication_mode(&props, None, cx).await?;
            let mut tags = tags::with_owner(&props.tags, &cx.owner);
            tags.extend(bound.map(|arn| (binding::USER_TAG.to_owned(), arn)));
            let created = self
                .client
                .create_user()
                .user_name(name)
                .access_string(&props.access_string)
                .authentication_mode(mode)
                .set_tags(Some(super::sdk_tags(tags)))
                .send()
                .await;
            lifecycle::creation(
                created,
                |e| e.is_user_already_exists_fault(),
                |e| api("CreateUser", e),
            )
        })
        .await?;
        if made.adopted {
            let name = name.to_owned();
            return self.update(&name, props, &Diff::all(), cx).await;
        }
        Ok(outcome(&made.item))
    }

    async fn update(
        &self,
        name: &str,
        props: UserProps,
        diff: &Diff,
        cx: &Cx,
    ) -> Result<Outcome, Error> {
        let current = lifecycle::current_owned(self, name, cx).await?;
        let mut update = self.client.update_user().user_name(name);
        let mut changes = Vec::new();
        if diff.changed(&["AccessString"]) {
            update = update.access_string(&props.access_string);
            changes.push("AccessString");
        }
        let mut bound = None;
        if diff.changed(&AUTH_PROPERTIES) {
            let (mode, secret) = self.authentication_mode(&props, diff.old(), cx).await?;
            update = update.authentication_mode(mode);
            bound = Some(secret);
            changes.push("authentication");
        }
        if !changes.is_empty() {
            tracing::info!(user_name = name, changes = ?changes, "updating user");
        }
        let send = (!changes.is_empty()).then_some(|| async {
            let sent = update.clone().send().await;
            lifecycle::attempt(
                sent,
                |e| e.is_invalid_user_state_fault(),
                |_| false,
                |e| api("UpdateUser", e),
            )
        });
        let after = lifecycle::After {
            tags: diff.changed(&["Tags"]).then_some(props.tags.as_slice()),
            bind: bound.as_ref().map(Option::as_deref),
        };
        let user = lifecycle::update(self, name, cx, current, send, after).await?;
        Ok(outcome(&user))
    }

    async fn delete(&self, name: &str, _props: &Map<String, Value>, cx: &Cx) -> Result<(), Error> {
        lifecycle::delete_owned(self, name, cx, || async {
            lifecycle::attempt(
                self.client.delete_user().user_name(name).send().await,
                |e| e.is_invalid_user_state_fault(),
                |e| e.is_user_not_found_fault(),
                |e| api("DeleteUser", e),
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::props;

    fn user(v: Value) -> Result<UserProps, PropsError> {
        let p: UserProps = props::parse(v.as_object().unwrap())?;
        User::validate(&p)?;
        Ok(p)
    }

    #[test]
    fn user_authentication_forms() {
        let p = user(json!({"UserName": "app", "AccessString": "on ~* +@all",
            "AuthenticationMode": {"Type": "password", "Passwords": ["a-sixteen-char-pw-1"]}}))
        .unwrap();
        assert!(matches!(p.auth().unwrap(), Auth::Passwords(p) if p.len() == 1));
        let p = user(json!({"UserName": "app", "AccessString": "on ~* +@all",
            "PasswordSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:s"}))
        .unwrap();
        assert_eq!(
            p.auth().unwrap(),
            Auth::FromSecret("arn:aws:secretsmanager:us-east-1:1:secret:s".into())
        );
        let p = user(json!({"UserName": "app", "AccessString": "on ~* +@all",
            "AuthenticationMode": {"Type": "iam"}}))
        .unwrap();
        assert_eq!(p.auth().unwrap(), Auth::Iam);
    }

    #[test]
    fn user_rules_fail_before_any_call() {
        let e = user(json!({"UserName": "app", "AccessString": "x"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("needs AuthenticationMode.Passwords or PasswordSecretArn"),
            "{e}"
        );
        let e = user(json!({"UserName": "app", "AccessString": "x",
            "AuthenticationMode": {"Type": "password", "Passwords": ["short"]}}))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("AuthenticationMode.Passwords[0]") && !e.contains("short\""),
            "{e}"
        );
        let e = user(
            json!({"UserName": "app", "AccessString": "x", "PasswordSecretArn": "arn:s",
            "AuthenticationMode": {"Type": "password", "Passwords": ["a-sixteen-char-pw-1"]}}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("exclusive"), "{e}");
        let e = user(json!({"UserName": "app", "AccessString": "x",
            "AuthenticationMode": {"Type": "no-password-required"}}))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("AuthenticationMode.Type") && e.contains("iam"),
            "{e}"
        );
        let e = user(json!({"UserName": "app_1", "AccessString": "x",
            "AuthenticationMode": {"Type": "iam"}}))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("invalid ResourceProperties: UserName:"),
            "{e}"
        );
    }
}
