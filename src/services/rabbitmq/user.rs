//! `Custom::AmazonMQRabbitMQUser`: a user of an Amazon MQ for RabbitMQ broker, with its tags
//! and its permissions per virtual host.
//!
//! RabbitMQ's `PUT /api/users/{name}` creates or overwrites and has no compare-and-set, so a
//! Create looks first and writes only where no user is; two writers racing between the look
//! and the write cannot be told apart by the API. The ownership record is on the user itself
//! (`ownership`), written by the same PUT that creates it.

use super::broker::{Broker, Brokers};
use super::management::{Credentials, Management, Session, UserInfo};
use super::ownership::{self, owned_by, owner_of, owner_tag, with_record};
use super::rules::{Permission, check_permissions, check_tags, check_username};
use crate::aws::Secrets;
use crate::cfn::props::{Diff, PropsError, flex_bool_opt, string_list};
use crate::cfn::{Cx, Outcome, Resource};
use crate::redact::Secret;
use crate::services::common::amazon_mq::{
    CLONE_SUFFIX, check_mq_password, is_broker_id, split_user_id,
};
use crate::services::error::Error;
use async_trait::async_trait;
use aws_sdk_mq::types::BrokerState;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct UserProps {
    pub broker_id: String,
    pub username: String,
    /// Accepted only to be refused with a reason: RabbitMQ passwords live in a secret.
    #[serde(default)]
    password: Option<Secret>,
    #[serde(default)]
    pub password_secret_arn: String,
    #[serde(default)]
    pub admin_secret_arn: String,
    #[serde(default, deserialize_with = "string_list")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Take over an existing user made outside userkeeper (default false).
    #[serde(default, deserialize_with = "flex_bool_opt")]
    pub adopt: Option<bool>,
}

pub struct User {
    pub(super) brokers: Brokers,
    pub(super) management: Arc<Management>,
    pub(super) secrets: Secrets,
}

/// Reads a broker administrator's credentials from `arn` (`username` and `password`).
pub(super) async fn admin(
    secrets: &Secrets,
    arn: &str,
    redactor: &crate::redact::Redactor,
) -> Result<Credentials, Error> {
    let current = secrets.current(arn, redactor).await?;
    let username =
        current
            .username
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Error::AdminSecretShape {
                arn: arn.to_owned(),
            })?;
    Ok(Credentials {
        username,
        password: current.password,
    })
}

/// Refuses to manage the administrator userkeeper works as (or its rotation clone's name):
/// changing its password or tags would lock every later call out, Delete included.
pub(super) fn check_not_admin(broker_id: &str, username: &str, admin: &str) -> Result<(), Error> {
    if admin == username || admin == format!("{username}{CLONE_SUFFIX}") {
        return Err(Error::AdminUser {
            broker_id: broker_id.to_owned(),
            username: admin.to_owned(),
        });
    }
    Ok(())
}

impl User {
    async fn session(&self, props: &UserProps, cx: &Cx) -> Result<(Broker, Session), Error> {
        let broker = self.brokers.running(&props.broker_id, cx).await?;
        let credentials = admin(&self.secrets, &props.admin_secret_arn, &cx.redactor).await?;
        check_not_admin(&broker.id, &props.username, &credentials.username)?;
        let session = self
            .management
            .open(&broker, credentials, &props.admin_secret_arn)
            .await?;
        Ok((broker, session))
    }

    /// Every virtual host the template names must exist: checked before any write.
    async fn check_vhosts(
        session: &Session,
        broker: &Broker,
        props: &UserProps,
    ) -> Result<(), Error> {
        for p in &props.permissions {
            if !session.vhost_exists(&p.virtual_host).await? {
                return Err(Error::NoVirtualHost {
                    broker_id: broker.id.clone(),
                    vhost: p.virtual_host.clone(),
                });
            }
        }
        Ok(())
    }

    /// The password in `PasswordSecretArn`, and the secret's full ARN (what the user is bound to).
    async fn password(&self, props: &UserProps, cx: &Cx) -> Result<(Secret, String), Error> {
        let current = self
            .secrets
            .current(&props.password_secret_arn, &cx.redactor)
            .await?;
        check_mq_password("PasswordSecretArn (its password)", &current.password)?;
        Ok((current.password, current.arn))
    }

    /// Creates the user, with its record in its tags, then its permissions. A permission
    /// RabbitMQ refuses (a regex it cannot compile) removes the user again: nothing half-made.
    async fn make(&self, session: &Session, props: &UserProps, cx: &Cx) -> Result<(), Error> {
        let (password, bound) = self.password(props, cx).await?;
        let tags = with_record(&props.tags, &cx.owner, &bound);
        session.put_user(&props.username, &password, &tags).await?;
        cx.created(format!("{}/{}", props.broker_id, props.username));
        if let Err(e) = session
            .converge_permissions(&props.username, &props.permissions)
            .await
        {
            tracing::warn!(
                username = props.username,
                "RabbitMQ refused a permission; removing the user just created"
            );
            if let Err(undo) = session.delete_user(&props.username).await {
                tracing::error!(
                    username = props.username,
                    error = %undo,
                    "could not remove the user just created; CloudFormation's rollback Delete \
                     removes it"
                );
            }
            return Err(e);
        }
        Ok(())
    }

    /// Brings the user and its clone (if alternating rotation made one) to the template's tags
    /// and permissions, the password staying as it is.
    async fn converge(
        session: &Session,
        props: &UserProps,
        user: &UserInfo,
        owner: &crate::cfn::Owner,
        record: &[String],
    ) -> Result<(), Error> {
        let mut tags = props.tags.clone();
        tags.extend(record.iter().cloned());
        if !ownership::same_tags(&user.tags, &tags) {
            session.set_tags(&props.username, user, &tags).await?;
        }
        session
            .converge_permissions(&props.username, &props.permissions)
            .await?;
        let clone = format!("{}{CLONE_SUFFIX}", props.username);
        if let Some(twin) = session.user(&clone).await? {
            // Only a clone this resource owns (its binding may be to the secret before this
            // one): a user of that name made by someone else is not ours to change.
            if owned_by(&twin.tags, owner) {
                if !ownership::same_tags(&twin.tags, &tags) {
                    session.set_tags(&clone, &twin, &tags).await?;
                }
                session
                    .converge_permissions(&clone, &props.permissions)
                    .await?;
            }
        }
        Ok(())
    }

    /// `Data`, and the physical id.
    async fn outcome(
        &self,
        props: &UserProps,
        session: &Session,
        cx: &Cx,
    ) -> Result<Outcome, Error> {
        let clone = format!("{}{CLONE_SUFFIX}", props.username);
        let named = self
            .secrets
            .current(&props.password_secret_arn, &cx.redactor)
            .await?
            .username;
        let live = if named.as_deref() == Some(clone.as_str()) {
            clone.as_str()
        } else {
            props.username.as_str()
        };
        let mut data = Map::new();
        data.insert("Username".into(), json!(props.username));
        data.insert("LiveUsername".into(), json!(live));
        data.insert("ConsoleUrl".into(), json!(session.base));
        Ok(Outcome {
            physical_id: format!("{}/{}", props.broker_id, props.username),
            data,
            no_echo: false,
        })
    }

    /// The record a user of this resource carries: owner, and binding to `secret_arn`.
    fn record(cx: &Cx, secret_arn: &str) -> Vec<String> {
        with_record(&[], &cx.owner, secret_arn)
    }
}

#[async_trait]
impl Resource for User {
    const TYPE: &'static str = "Custom::AmazonMQRabbitMQUser";
    type Props = UserProps;
    type Error = Error;

    fn validate(props: &UserProps) -> Result<(), PropsError> {
        if !is_broker_id(&props.broker_id) {
            return Err(PropsError::field(
                "BrokerId",
                "expected a broker id like b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9",
            ));
        }
        check_username(&props.username)?;
        if props.password.is_some() {
            return Err(PropsError::field(
                "Password",
                "not accepted for RabbitMQ users: keep the password in a secret and name it \
                 with PasswordSecretArn (rotation changes it there)",
            ));
        }
        for (field, arn) in [
            ("PasswordSecretArn", &props.password_secret_arn),
            ("AdminSecretArn", &props.admin_secret_arn),
        ] {
            // A name is taken too (a `Ref` of a secret is its name in some engines); the
            // binding is to the full ARN Secrets Manager answers with.
            if arn.is_empty() || arn.chars().any(char::is_control) {
                return Err(PropsError::field(
                    field,
                    "required: the ARN (or name) of a Secrets Manager secret",
                ));
            }
        }
        if props.password_secret_arn == props.admin_secret_arn {
            return Err(PropsError(
                "PasswordSecretArn and AdminSecretArn name the same secret: the user's password \
                 and the administrator's credentials are kept in two secrets"
                    .into(),
            ));
        }
        check_tags(&props.tags)?;
        check_permissions(&props.permissions)
    }

    fn physical_id(props: &UserProps) -> String {
        format!("{}/{}", props.broker_id, props.username)
    }

    fn could_have_issued(id: &str) -> bool {
        split_user_id(id).is_some()
    }

    async fn create(&self, props: UserProps, cx: &Cx) -> Result<Outcome, Error> {
        let (broker, session) = self.session(&props, cx).await?;
        Self::check_vhosts(&session, &broker, &props).await?;
        let username = props.username.as_str();
        match session.user(username).await? {
            None => self.make(&session, &props, cx).await?,
            Some(user) if owned_by(&user.tags, &cx.owner) => {
                // A redelivered Create, or a continuation: the user is ours; bring it to the
                // template without touching its password (rotation may have changed it).
                tracing::info!(
                    username,
                    "user exists already and belongs to this resource; not creating it again"
                );
                let (_, bound) = self.password(&props, cx).await?;
                Self::converge(
                    &session,
                    &props,
                    &user,
                    &cx.owner,
                    &Self::record(cx, &bound),
                )
                .await?;
            }
            Some(user) if owner_of(&user.tags).is_none() && props.adopt == Some(true) => {
                // Made outside userkeeper, and the template asks to take it over: like an
                // Update of everything, password included.
                let (password, bound) = self.password(&props, cx).await?;
                let tags = with_record(&props.tags, &cx.owner, &bound);
                session.put_user(username, &password, &tags).await?;
                let user = session.user(username).await?.unwrap_or(user);
                Self::converge(
                    &session,
                    &props,
                    &user,
                    &cx.owner,
                    &Self::record(cx, &bound),
                )
                .await?;
                tracing::warn!(
                    broker_id = broker.id,
                    username,
                    "adopted a RabbitMQ user made outside userkeeper (Adopt): this resource now \
                     manages it, and its Delete deletes it"
                );
            }
            Some(_) => {
                return Err(Error::NotOwnedOnRabbitMq {
                    broker_id: broker.id.clone(),
                    username: username.to_owned(),
                    tag: owner_tag(&cx.owner),
                });
            }
        }
        self.outcome(&props, &session, cx).await
    }

    async fn update(
        &self,
        id: &str,
        props: UserProps,
        diff: &Diff,
        cx: &Cx,
    ) -> Result<Outcome, Error> {
        let (broker, session) = self.session(&props, cx).await?;
        let username = props.username.as_str();
        let user = session
            .user(username)
            .await?
            .ok_or_else(|| Error::MissingOnBroker {
                broker_id: broker.id.clone(),
                username: username.to_owned(),
            })?;
        // Only this resource's own: the event may come from another stack sharing the function.
        if !owned_by(&user.tags, &cx.owner) {
            return Err(Error::UpdateNotOwned {
                kind: "RabbitMQ user",
                id: id.to_owned(),
                id_word: "Username",
                found: match owner_of(&user.tags) {
                    Some(other) => format!("its tag names {other}"),
                    None => "it has no userkeeper:owner tag: userkeeper did not create it".into(),
                },
            });
        }
        Self::check_vhosts(&session, &broker, &props).await?;
        let (password, bound) = self.password(&props, cx).await?;
        let record = Self::record(cx, &bound);
        // The password is never re-sent from an unchanged template: rotation may have changed
        // it since.
        let user = if diff.changed(&["PasswordSecretArn"]) {
            tracing::info!(physical_id = id, "setting the password from the new secret");
            let mut tags = props.tags.clone();
            tags.extend(record.iter().cloned());
            session.put_user(username, &password, &tags).await?;
            session
                .user(username)
                .await?
                .ok_or_else(|| Error::MissingOnBroker {
                    broker_id: broker.id.clone(),
                    username: username.to_owned(),
                })?
        } else {
            user
        };
        Self::converge(&session, &props, &user, &cx.owner, &record).await?;
        self.outcome(&props, &session, cx).await
    }

    async fn delete(&self, id: &str, props: &Map<String, Value>, cx: &Cx) -> Result<(), Error> {
        let Some((broker_id, username)) = split_user_id(id) else {
            return Ok(());
        };
        match self.brokers.describe(broker_id).await? {
            None => {
                tracing::info!(broker_id, "broker does not exist; nothing to delete");
                return Ok(());
            }
            Some(b) if b.engine_type() != Some(&aws_sdk_mq::types::EngineType::Rabbitmq) => {
                return Ok(()); // this type never creates users there
            }
            // A broker on its way out (or never made) never runs again: its users go with it.
            Some(b)
                if matches!(
                    b.broker_state(),
                    Some(BrokerState::DeletionInProgress | BrokerState::CreationFailed)
                ) =>
            {
                return Ok(());
            }
            Some(_) => {}
        }
        // Read leniently: a Delete must not fail on properties that no longer parse. Without an
        // administrator secret this resource could never have made the user.
        let Some(admin_arn) = props.get("AdminSecretArn").and_then(Value::as_str) else {
            return Ok(());
        };
        let broker = self.brokers.running(broker_id, cx).await?;
        let credentials = admin(&self.secrets, admin_arn, &cx.redactor).await?;
        let session = self
            .management
            .open(&broker, credentials, admin_arn)
            .await?;
        let Some(user) = session.user(username).await? else {
            return Ok(());
        };
        if !owned_by(&user.tags, &cx.owner) {
            tracing::warn!(
                broker_id,
                username,
                "user is not managed by this resource; leaving it alone"
            );
            return Ok(());
        }
        // The clone too: left behind, it would still log in with the AWSCURRENT password.
        let clone = format!("{username}{CLONE_SUFFIX}");
        if let Some(twin) = session.user(&clone).await?
            && owned_by(&twin.tags, &cx.owner)
        {
            session.delete_user(&clone).await?;
        }
        session.delete_user(username).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::props;

    fn parse(v: Value) -> Result<UserProps, PropsError> {
        let p: UserProps = props::parse(v.as_object().unwrap())?;
        User::validate(&p)?;
        Ok(p)
    }

    fn base() -> Value {
        json!({
            "BrokerId": "b-1234", "Username": "app.user",
            "PasswordSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:app-AbC",
            "AdminSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:admin-XyZ",
            "Tags": ["management"],
            "Permissions": [
                {"VirtualHost": "/", "Configure": "", "Write": "^orders\\.", "Read": ".*"},
                {"VirtualHost": "orders", "Read": ".*"}
            ],
            "Adopt": "false"
        })
    }

    #[test]
    fn valid_user_parses_with_default_regexes() {
        let p = parse(base()).unwrap();
        assert_eq!(p.permissions[1].write, "");
        assert_eq!(p.adopt, Some(false));
        assert_eq!(User::physical_id(&p), "b-1234/app.user");
    }

    #[test]
    fn bad_input_names_the_field_never_the_value() {
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            parse(b).unwrap_err().to_string()
        };
        let e = with("Password", json!("inline-password-1"));
        assert!(
            e.contains("PasswordSecretArn") && !e.contains("inline-password-1"),
            "{e}"
        );
        assert!(with("AdminSecretArn", json!("")).contains("AdminSecretArn"));
        assert!(
            parse({
                let mut b = base();
                b["AdminSecretArn"] = json!("broker-admin");
                b
            })
            .is_ok()
        );
        assert!(with("PasswordSecretArn", json!("")).contains("PasswordSecretArn"));
        assert!(with("Username", json!("x_clone")).contains("Username"));
        assert!(with("BrokerId", json!("b 1")).contains("BrokerId"));
        assert!(with("Tags", json!(["ok", "userkeeper"])).contains("Tags[1]"));
        let e = with("Permissions", json!([{"VirtualHost": "/", "Read": "(x"}]));
        assert!(e.contains("Permissions[0].Read"), "{e}");
        let e = with("Permissions", json!([{"VirtualHost": "/", "Reed": ".*"}]));
        assert!(e.contains("Reed"), "{e}");
        let mut b = base();
        b["AdminSecretArn"] = b["PasswordSecretArn"].clone();
        assert!(parse(b).unwrap_err().to_string().contains("same secret"));
        let mut b = base();
        b.as_object_mut().unwrap().remove("AdminSecretArn");
        assert!(parse(b).unwrap_err().to_string().contains("AdminSecretArn"));
    }
}
