//! `Custom::ElastiCacheUser`.

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
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::types::{AuthenticationMode, InputAuthenticationType};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct UserProps {
    pub user_id: String,
    pub user_name: String,
    pub engine: Engine,
    pub access_string: String,
    #[serde(default)]
    pub authentication_mode: Option<AuthModeProp>,
    #[serde(default)]
    pub passwords: Option<Vec<Secret>>,
    #[serde(default, deserialize_with = "flex_bool_opt")]
    pub no_password_required: Option<bool>,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    // The ElastiCache tutorial writes `Redis`; the API accepts either case.
    #[serde(alias = "Redis")]
    Redis,
    #[serde(alias = "Valkey")]
    Valkey,
}

impl Engine {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Valkey => "valkey",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AuthModeProp {
    pub r#type: AuthType,
    #[serde(default)]
    pub passwords: Option<Vec<Secret>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthType {
    Password,
    NoPasswordRequired,
    Iam,
}

/// Properties that decide the user's authentication: re-set only when one of them changed,
/// so that an unchanged template never reverts a password that rotation has changed since.
const AUTH_PROPERTIES: [&str; 4] = [
    "AuthenticationMode",
    "Passwords",
    "NoPasswordRequired",
    "PasswordSecretArn",
];

impl UserProps {
    /// How the user authenticates, resolved from the four properties that can say it.
    fn auth(&self) -> Result<Auth, PropsError> {
        let mode_passwords = self
            .authentication_mode
            .as_ref()
            .and_then(|m| m.passwords.as_ref());
        let inline = match (mode_passwords, &self.passwords) {
            (Some(_), Some(_)) => {
                return Err(PropsError(
                    "give passwords in AuthenticationMode.Passwords or in Passwords, not both"
                        .into(),
                ));
            }
            (Some(p), None) => Some(("AuthenticationMode.Passwords", p)),
            (None, Some(p)) => Some(("Passwords", p)),
            (None, None) => None,
        };
        let secret = self
            .password_secret_arn
            .as_deref()
            .filter(|s| !s.is_empty());
        if let (Some((path, _)), Some(_)) = (inline, secret) {
            return Err(PropsError(format!(
                "PasswordSecretArn and {path} are exclusive: keep the password in the secret or \
                 in the template, not both"
            )));
        }
        let kind = match (
            self.authentication_mode.as_ref().map(|m| m.r#type),
            self.no_password_required,
        ) {
            (Some(AuthType::Password), Some(true)) => {
                return Err(PropsError(
                    "NoPasswordRequired is true but AuthenticationMode.Type is password".into(),
                ));
            }
            (Some(t), _) => t,
            (None, Some(true)) => AuthType::NoPasswordRequired,
            (None, _) => AuthType::Password,
        };
        match kind {
            AuthType::Password => match (inline, secret) {
                (Some((path, p)), None) => {
                    check_passwords(path, p)?;
                    Ok(Auth::Passwords(p.clone()))
                }
                (None, Some(arn)) => Ok(Auth::FromSecret(arn.to_owned())),
                _ => Err(PropsError(
                    "a password user needs Passwords, AuthenticationMode.Passwords or \
                     PasswordSecretArn (or set AuthenticationMode.Type to iam or \
                     no-password-required)"
                        .into(),
                )),
            },
            other if inline.is_some() || secret.is_some() => Err(PropsError(format!(
                "AuthenticationMode.Type {} takes no passwords; remove Passwords and \
                 PasswordSecretArn",
                if other == AuthType::Iam {
                    "iam"
                } else {
                    "no-password-required"
                }
            ))),
            AuthType::NoPasswordRequired => Ok(Auth::NoPassword),
            AuthType::Iam => Ok(Auth::Iam),
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
                Method::Password => InputAuthenticationType::Password,
                Method::NoPassword => InputAuthenticationType::NoPassword,
                Method::Iam => InputAuthenticationType::Iam,
            })
            .set_passwords(auth::exposed(&passwords))
            .build();
        Ok((mode, secret_arn))
    }
}

#[async_trait]
impl Kind for User {
    type Item = aws_sdk_elasticache::types::User;
    type Tags = Client;
    const NOUN: &'static str = "user";
    const ID_WORD: &'static str = "id";

    async fn describe(&self, id: &str) -> Result<Option<Self::Item>, Error> {
        match self.client.describe_users().user_id(id).send().await {
            Ok(out) => Ok(out
                .users()
                .iter()
                .find(|u| u.user_id() == Some(id))
                .cloned()),
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

fn outcome(user: &aws_sdk_elasticache::types::User) -> Outcome {
    let mut data = Map::new();
    data.insert("Arn".into(), json!(user.arn().unwrap_or_default()));
    data.insert("UserId".into(), json!(user.user_id().unwrap_or_default()));
    data.insert(
        "UserName".into(),
        json!(user.user_name().unwrap_or_default()),
    );
    data.insert("Status".into(), json!(user.status().unwrap_or_default()));
    data.insert(
        "MinimumEngineVersion".into(),
        json!(user.minimum_engine_version().unwrap_or_default()),
    );
    Outcome {
        physical_id: user.user_id().unwrap_or_default().to_owned(),
        data,
        no_echo: false,
    }
}

#[async_trait]
impl Resource for User {
    const TYPE: &'static str = "Custom::ElastiCacheUser";
    type Props = UserProps;
    type Error = Error;

    fn validate(props: &UserProps) -> Result<(), PropsError> {
        check_id("UserId", &props.user_id)?;
        if props.user_name.is_empty() {
            return Err(PropsError::field("UserName", "must not be empty"));
        }
        check_tags(&props.tags)?;
        props.auth().map(|_| ())
    }

    fn physical_id(props: &UserProps) -> String {
        props.user_id.clone()
    }

    fn could_have_issued(id: &str) -> bool {
        is_valid_id(id)
    }

    async fn create(&self, props: UserProps, cx: &Cx) -> Result<Outcome, Error> {
        let id = props.user_id.as_str();
        let made = lifecycle::create_once(self, id, props.adopt == Some(true), cx, || async {
            let (mode, bound) = self.authentication_mode(&props, None, cx).await?;
            let mut tags = tags::with_owner(&props.tags, &cx.owner);
            tags.extend(bound.map(|arn| (binding::USER_TAG.to_owned(), arn)));
            let created = self
                .client
                .create_user()
                .user_id(id)
                .user_name(&props.user_name)
                .engine(props.engine.as_str())
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
            let id = id.to_owned();
            return self.update(&id, props, &Diff::all(), cx).await;
        }
        Ok(outcome(&made.item))
    }

    async fn update(
        &self,
        id: &str,
        props: UserProps,
        diff: &Diff,
        cx: &Cx,
    ) -> Result<Outcome, Error> {
        // A change to a user that is not active fails with InvalidUserState.
        let current = lifecycle::current_owned(self, id, cx).await?;
        if current.user_name() != Some(props.user_name.as_str()) {
            return Err(Error::NeedsNewId {
                kind: "user",
                property: "UserName",
                id_property: "UserId",
            });
        }
        let mut modify = self.client.modify_user().user_id(id);
        let mut changes = Vec::new();
        if diff.changed(&["AccessString"]) {
            modify = modify.access_string(&props.access_string);
            changes.push("AccessString");
        }
        if diff.changed(&["Engine"]) && current.engine() != Some(props.engine.as_str()) {
            modify = modify.engine(props.engine.as_str());
            changes.push("Engine");
        }
        let mut bound = None;
        if diff.changed(&AUTH_PROPERTIES) {
            let (mode, secret) = self.authentication_mode(&props, diff.old(), cx).await?;
            modify = modify.authentication_mode(mode);
            bound = Some(secret);
            changes.push("authentication");
        }
        if !changes.is_empty() {
            tracing::info!(user_id = id, changes = ?changes, "modifying user");
        }
        let send = (!changes.is_empty()).then_some(|| async {
            let sent = modify.clone().send().await;
            lifecycle::attempt(
                sent,
                |e| e.is_invalid_user_state_fault(),
                |_| false,
                |e| api("ModifyUser", e),
            )
        });
        let after = lifecycle::After {
            tags: diff.changed(&["Tags"]).then_some(props.tags.as_slice()),
            bind: bound.as_ref().map(Option::as_deref),
        };
        let user = lifecycle::update(self, id, cx, current, send, after).await?;
        Ok(outcome(&user))
    }

    async fn delete(&self, id: &str, _props: &Map<String, Value>, cx: &Cx) -> Result<(), Error> {
        lifecycle::delete_owned(self, id, cx, || async {
            // Busy: changed since we looked (a rotation, say); wait for it, then again.
            lifecycle::attempt(
                self.client.delete_user().user_id(id).send().await,
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
    use serde_json::{Value, json};

    fn parse(v: Value) -> Result<UserProps, PropsError> {
        let p: UserProps = props::parse(v.as_object().unwrap())?;
        User::validate(&p)?;
        Ok(p)
    }

    fn base() -> Value {
        json!({
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:userkeeper",
            "UserId": "app-user",
            "UserName": "app",
            "Engine": "redis",
            "AccessString": "on ~app:* +@read",
            "Passwords": ["a-sixteen-char-pw-1"]
        })
    }

    fn with(mut v: Value, key: &str, value: Value) -> Value {
        if value.is_null() {
            v.as_object_mut().unwrap().remove(key);
        } else {
            v[key] = value;
        }
        v
    }

    #[test]
    fn inline_passwords() {
        let p = parse(base()).unwrap();
        assert_eq!(
            p.auth().unwrap(),
            Auth::Passwords(vec![Secret::new("a-sixteen-char-pw-1")])
        );
        assert_eq!(p.engine, Engine::Redis);
    }

    #[test]
    fn authentication_mode_forms() {
        let v = with(base(), "Passwords", Value::Null);
        let p = parse(with(
            v.clone(),
            "AuthenticationMode",
            json!({"Type": "iam"}),
        ))
        .unwrap();
        assert_eq!(p.auth().unwrap(), Auth::Iam);
        let p = parse(with(v.clone(), "NoPasswordRequired", json!("true"))).unwrap();
        assert_eq!(p.auth().unwrap(), Auth::NoPassword);
        let p = parse(with(
            v.clone(),
            "AuthenticationMode",
            json!({"Type": "password", "Passwords": ["b-sixteen-char-pw-1", "c-sixteen-char-pw-1"]}),
        ))
        .unwrap();
        assert!(matches!(p.auth().unwrap(), Auth::Passwords(p) if p.len() == 2));
        let p = parse(with(
            v,
            "PasswordSecretArn",
            json!("arn:aws:secretsmanager:us-east-1:1:secret:s"),
        ))
        .unwrap();
        assert_eq!(
            p.auth().unwrap(),
            Auth::FromSecret("arn:aws:secretsmanager:us-east-1:1:secret:s".into())
        );
    }

    #[test]
    fn conflicting_or_missing_authentication_is_rejected_with_the_fix() {
        let e = parse(with(base(), "PasswordSecretArn", json!("arn:x")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("exclusive"), "{e}");
        let e = parse(with(base(), "AuthenticationMode", json!({"Type": "iam"})))
            .unwrap_err()
            .to_string();
        assert!(e.contains("takes no passwords"), "{e}");
        let e = parse(with(base(), "Passwords", Value::Null))
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs Passwords"), "{e}");
        let e = parse(with(
            base(),
            "AuthenticationMode",
            json!({"Type": "password", "Passwords": ["x-sixteen-char-pw-1"]}),
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("not both"), "{e}");
        let e = parse(with(base(), "Passwords", json!(["too-short"])))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Passwords[0]") && !e.contains("too-short"),
            "{e}"
        );
        let e = parse(with(
            base(),
            "AuthenticationMode",
            json!({"Type": "kerberos"}),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("AuthenticationMode.Type: unknown value, expected")
                && e.contains("iam")
                && !e.contains("kerberos"),
            "{e}"
        );
    }

    #[test]
    fn engine_and_id_are_checked() {
        let e = parse(with(base(), "Engine", json!("memcached")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Engine") && e.contains("valkey"), "{e}");
        assert_eq!(
            parse(with(base(), "Engine", json!("Valkey")))
                .unwrap()
                .engine,
            Engine::Valkey
        );
        let e = parse(with(base(), "UserId", json!("bad_id")))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("invalid ResourceProperties: UserId:"), "{e}");
    }

    #[test]
    fn typo_and_missing_properties_are_named() {
        let e = parse(with(base(), "UserNmae", json!("x")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown property `UserNmae`"), "{e}");
        let e = parse(with(base(), "AccessString", Value::Null))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing required property `AccessString`"),
            "{e}"
        );
    }
}
