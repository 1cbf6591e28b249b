//! Amazon MQ (ActiveMQ): `Custom::AmazonMQUser`, a single broker user, which CloudFormation
//! itself cannot express (its users live only inside `AWS::AmazonMQ::Broker`).
//!
//! ActiveMQ applies user changes only at the broker's next reboot or maintenance window. By
//! default a change is left pending (and `PendingChange` says so); with `ApplyImmediately` the
//! broker is rebooted once per request and the operation waits until the change is live.
//!
//! MQ users carry no tags, so ownership is recorded on the broker: one tag per user this
//! function manages, `userkeeper:user:<Username>` = `<stack guid>/<logical id> <request id>`
//! (a `~` in the username, which tag keys cannot hold, is written `+`). The request id is the
//! last request whose change was sent: a redelivered copy of it must not send the change again,
//! which would queue a new pending change and need a second reboot. A broker holds at most 50 tags, so
//! one broker can have at most 50 users managed this way, less its own tags.

mod rotator;

pub use rotator::MqRotator;

use super::{Registry, Shared, is};
use crate::cfn::props::{Diff, PropsError, flex_bool_opt, string_list};
use crate::cfn::{Cx, Outcome, Owner, Resource};
use crate::redact::Secret;
use crate::secrets::{SecretError, Secrets};
use crate::wait::{self, Poll, Waiting};
use async_trait::async_trait;
use aws_sdk_mq::Client;
use aws_sdk_mq::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;
use aws_sdk_mq::types::{BrokerState, ChangeType, EngineType};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Registers this service's resource types.
pub fn register(registry: &mut Registry<'_>, shared: &Shared<'_>) {
    let client = Client::new(shared.sdk);
    let user = || AmazonMqUser {
        client: client.clone(),
        secrets: shared.secrets.clone(),
    };
    registry.provider.register(user());
    registry.rotators.register(MqRotator {
        client: client.clone(),
        users: user(),
        login: shared.login.clone(),
    });
}

const OWNER_TAG_PREFIX: &str = "userkeeper:user:";
const REBOOT_STEP: &str = "reboot";
const UPDATE_STEP: &str = "update-sent";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] super::ApiError),
    #[error("broker {0:?} does not exist; check BrokerId")]
    NoBroker(String),
    #[error(
        "broker {0:?} is a RabbitMQ broker: Amazon MQ has no user API for RabbitMQ. Its users \
         live in RabbitMQ itself; manage them with the RabbitMQ management API or rabbitmqctl"
    )]
    RabbitMq(String),
    #[error(
        "user {username:?} already exists on broker {broker_id:?} and is not managed by this \
         stack and logical id (the broker has no tag {OWNER_TAG_PREFIX}{username} naming them); \
         pick another Username, or delete the existing user first"
    )]
    NotOwned { broker_id: String, username: String },
    #[error(
        "user {username:?} does not exist on broker {broker_id:?}; it may have been deleted outside CloudFormation"
    )]
    Missing { broker_id: String, username: String },
    #[error(transparent)]
    Props(#[from] PropsError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

fn api<E, R>(op: &'static str, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    super::api_error("Amazon MQ", op, e).into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct UserProps {
    pub broker_id: String,
    pub username: String,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_secret_arn: Option<String>,
    #[serde(default, deserialize_with = "flex_bool_opt")]
    pub console_access: Option<bool>,
    #[serde(default, deserialize_with = "string_list")]
    pub groups: Vec<String>,
    #[serde(default, deserialize_with = "flex_bool_opt")]
    pub replication_user: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool_opt")]
    pub apply_immediately: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Amazon MQ's rules for ActiveMQ users, checked before any call.

fn is_mq_name(s: &str) -> bool {
    (2..=100).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

fn check_mq_name(path: &str, s: &str) -> Result<(), PropsError> {
    if is_mq_name(s) {
        Ok(())
    } else {
        Err(PropsError::field(
            path,
            format!("{s:?} must be 2 to 100 characters of A-Z a-z 0-9 - . _ ~"),
        ))
    }
}

/// Amazon MQ's password rule. Never quotes the password.
pub(crate) fn check_mq_password(path: &str, password: &Secret) -> Result<(), PropsError> {
    let p = password.expose();
    let len = p.chars().count();
    if len < 12 {
        return Err(PropsError::field(
            path,
            format!("a broker password needs at least 12 characters (this one has {len})"),
        ));
    }
    let mut distinct: Vec<char> = p.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Err(PropsError::field(
            path,
            "a broker password needs at least 4 different characters",
        ));
    }
    if let Some(bad) = p.chars().find(|c| matches!(c, ',' | ':' | '=')) {
        return Err(PropsError::field(
            path,
            format!("a broker password must not contain , : or = (this one contains {bad})"),
        ));
    }
    Ok(())
}

fn is_broker_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn split_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('/')
        .filter(|(b, u)| is_broker_id(b) && is_mq_name(u))
}

/// The broker tag key recording who owns `username`. Tag keys cannot hold `~`, which MQ
/// usernames can; `+` can never appear in a username, so the mapping stays one-to-one.
fn owner_key(username: &str) -> String {
    format!("{OWNER_TAG_PREFIX}{}", username.replace('~', "+"))
}

/// The owner part of the broker tag value: the stack's GUID (the last part of its id,
/// unique where its name is not) and the logical id, at most 200 characters.
fn owner_value(owner: &Owner) -> String {
    let guid = owner.stack_id.rsplit('/').next().unwrap_or(&owner.stack_id);
    format!("{guid}/{}", owner.logical_id)
        .chars()
        .take(200)
        .collect()
}

/// The whole tag value, within MQ's 256 characters: the owner part, a space, and the request
/// id (a UUID from CloudFormation; cut to the 55 characters left if ever longer).
fn owner_tag_value(owner: &Owner, request_id: &str) -> String {
    let request_id: String = request_id.chars().take(55).collect();
    format!("{} {request_id}", owner_value(owner))
}

/// Splits a tag value into (owner part, request id).
fn parse_owner_tag(value: &str) -> (&str, Option<&str>) {
    match value.rsplit_once(' ') {
        Some((owner, request)) => (owner, Some(request)),
        None => (value, None),
    }
}

pub struct AmazonMqUser {
    client: Client,
    secrets: Secrets,
}

impl AmazonMqUser {
    pub(super) async fn broker(
        &self,
        broker_id: &str,
    ) -> Result<Option<DescribeBrokerOutput>, Error> {
        match self
            .client
            .describe_broker()
            .broker_id(broker_id)
            .send()
            .await
        {
            Ok(b) => Ok(Some(b)),
            Err(e) if is(&e, |e| e.is_not_found_exception()) => Ok(None),
            Err(e) => Err(api("DescribeBroker", e)),
        }
    }

    /// The broker, which must exist and run ActiveMQ.
    pub(super) async fn activemq(&self, broker_id: &str) -> Result<DescribeBrokerOutput, Error> {
        let broker = self
            .broker(broker_id)
            .await?
            .ok_or_else(|| Error::NoBroker(broker_id.to_owned()))?;
        if broker.engine_type() == Some(&EngineType::Rabbitmq) {
            return Err(Error::RabbitMq(broker_id.to_owned()));
        }
        Ok(broker)
    }

    /// The user's pending change, `None` if the user does not exist at all.
    pub(super) async fn user(
        &self,
        broker_id: &str,
        username: &str,
    ) -> Result<Option<Option<ChangeType>>, Error> {
        match self
            .client
            .describe_user()
            .broker_id(broker_id)
            .username(username)
            .send()
            .await
        {
            Ok(u) => Ok(Some(u.pending().and_then(|p| p.pending_change()).cloned())),
            Err(e) if is(&e, |e| e.is_not_found_exception()) => Ok(None),
            Err(e) => Err(api("DescribeUser", e)),
        }
    }

    /// Waits until the broker runs: Amazon MQ refuses user changes during a reboot (another
    /// resource's `ApplyImmediately`, say).
    pub(super) async fn wait_running(
        &self,
        broker_id: &str,
        cx: &impl Waiting,
    ) -> Result<DescribeBrokerOutput, Error> {
        wait::until(cx, &format!("broker {broker_id} to be running"), || async {
            let broker = self
                .broker(broker_id)
                .await?
                .ok_or_else(|| Error::NoBroker(broker_id.to_owned()))?;
            Ok(match broker.broker_state() {
                Some(BrokerState::Running) => Poll::Ready(broker),
                state => Poll::Pending(state.map(|s| s.as_str().to_owned()).unwrap_or_default()),
            })
        })
        .await
    }

    /// The user's ownership tag on the broker, if any.
    async fn owner_tag(&self, broker_arn: &str, username: &str) -> Result<Option<String>, Error> {
        self.broker_tag(broker_arn, &owner_key(username)).await
    }

    /// The broker's tag `key`, if it has one.
    pub(super) async fn broker_tag(
        &self,
        broker_arn: &str,
        key: &str,
    ) -> Result<Option<String>, Error> {
        let tags = self
            .client
            .list_tags()
            .resource_arn(broker_arn)
            .send()
            .await
            .map_err(|e| api("ListTags", e))?;
        Ok(tags.tags().and_then(|t| t.get(key)).cloned())
    }

    pub(super) async fn set_broker_tag(
        &self,
        broker_arn: &str,
        key: String,
        value: String,
    ) -> Result<(), Error> {
        self.client
            .create_tags()
            .resource_arn(broker_arn)
            .tags(key, value)
            .send()
            .await
            .map_err(|e| api("CreateTags", e))?;
        Ok(())
    }

    async fn owned(&self, broker_arn: &str, username: &str, owner: &Owner) -> Result<bool, Error> {
        let tag = self.owner_tag(broker_arn, username).await?;
        Ok(tag
            .as_deref()
            .is_some_and(|t| parse_owner_tag(t).0 == owner_value(owner)))
    }

    /// Records that `cx`'s request sent its change for `username`.
    async fn record_request(&self, broker_arn: &str, username: &str, cx: &Cx) -> Result<(), Error> {
        let value = owner_tag_value(&cx.owner, &cx.request_id);
        self.set_broker_tag(broker_arn, owner_key(username), value)
            .await
    }

    async fn password(&self, props: &UserProps, cx: &Cx) -> Result<Secret, Error> {
        match (&props.password, &props.password_secret_arn) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some(arn)) => {
                let p = self.secrets.current_password(arn, &cx.redactor).await?;
                check_mq_password("PasswordSecretArn (its password)", &p)?;
                Ok(p)
            }
            (None, None) => {
                Err(PropsError("Password or PasswordSecretArn is required".into()).into())
            }
        }
    }

    /// Makes the change live if asked to (one reboot per request, even across continuations
    /// and redelivered events), and reports where it stands.
    async fn settle(
        &self,
        props: &UserProps,
        broker: &DescribeBrokerOutput,
        cx: &Cx,
    ) -> Result<Outcome, Error> {
        let (broker_id, username) = (props.broker_id.as_str(), props.username.as_str());
        let pending = self
            .user(broker_id, username)
            .await?
            .ok_or_else(|| Error::Missing {
                broker_id: broker_id.to_owned(),
                username: username.to_owned(),
            })?;
        let pending = match pending {
            Some(_) if props.apply_immediately == Some(true) => {
                self.reboot_once(broker_id, broker, cx).await?;
                self.wait_applied(broker_id, username, cx).await?;
                None
            }
            Some(change) => {
                tracing::info!(
                    broker_id,
                    username,
                    pending_change = change.as_str(),
                    "the change is pending until the broker's next reboot or maintenance window \
                     (set ApplyImmediately to reboot now)"
                );
                Some(change)
            }
            None => None,
        };
        let mut data = Map::new();
        data.insert("BrokerId".into(), json!(broker_id));
        data.insert("Username".into(), json!(username));
        data.insert(
            "PendingChange".into(),
            json!(pending.as_ref().map(ChangeType::as_str).unwrap_or_default()),
        );
        Ok(Outcome {
            physical_id: format!("{broker_id}/{username}"),
            data,
            no_echo: false,
        })
    }

    async fn reboot_once(
        &self,
        broker_id: &str,
        broker: &DescribeBrokerOutput,
        cx: &Cx,
    ) -> Result<(), Error> {
        if cx.is_done(REBOOT_STEP) {
            return Ok(());
        }
        // A reboot already under way (started for a redelivered copy of this event) applies
        // this change too: never start a second one.
        let state = self
            .broker(broker_id)
            .await?
            .and_then(|b| b.broker_state().cloned());
        if state.as_ref().or(broker.broker_state()) != Some(&BrokerState::RebootInProgress) {
            tracing::info!(
                broker_id,
                "rebooting the broker to apply the user change (ApplyImmediately)"
            );
            self.client
                .reboot_broker()
                .broker_id(broker_id)
                .send()
                .await
                .map_err(|e| api("RebootBroker", e))?;
        }
        cx.mark_done(REBOOT_STEP);
        Ok(())
    }

    /// Waits for the broker to run again with no change pending for the user.
    pub(super) async fn wait_applied(
        &self,
        broker_id: &str,
        username: &str,
        cx: &impl Waiting,
    ) -> Result<(), Error> {
        wait::until(
            cx,
            &format!("broker {broker_id} to apply the change to user {username}"),
            || async {
                let state = self
                    .broker(broker_id)
                    .await?
                    .and_then(|b| b.broker_state().cloned());
                if state != Some(BrokerState::Running) {
                    let state = state
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_else(|| "gone".into());
                    return Ok(Poll::Pending(format!("broker {state}")));
                }
                Ok(match self.user(broker_id, username).await? {
                    None | Some(None) => Poll::Ready(()),
                    Some(Some(change)) => {
                        Poll::Pending(format!("user change {} pending", change.as_str()))
                    }
                })
            },
        )
        .await
    }
}

#[async_trait]
impl Resource for AmazonMqUser {
    const TYPE: &'static str = "Custom::AmazonMQUser";
    type Props = UserProps;
    type Error = Error;

    fn validate(props: &UserProps) -> Result<(), PropsError> {
        if !is_broker_id(&props.broker_id) {
            return Err(PropsError::field(
                "BrokerId",
                "expected a broker id like b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9",
            ));
        }
        check_mq_name("Username", &props.username)?;
        match (
            &props.password,
            props
                .password_secret_arn
                .as_deref()
                .filter(|s| !s.is_empty()),
        ) {
            (Some(p), None) => check_mq_password("Password", p)?,
            (None, Some(_)) => {}
            (Some(_), Some(_)) => {
                return Err(PropsError(
                    "Password and PasswordSecretArn are exclusive: keep the password in the secret \
                     or in the template, not both"
                        .into(),
                ));
            }
            (None, None) => {
                return Err(PropsError(
                    "Password or PasswordSecretArn is required".into(),
                ));
            }
        }
        if props.groups.len() > 20 {
            return Err(PropsError::field(
                "Groups",
                format!("at most 20 groups (got {})", props.groups.len()),
            ));
        }
        for (i, g) in props.groups.iter().enumerate() {
            check_mq_name(&format!("Groups[{i}]"), g)?;
        }
        Ok(())
    }

    fn physical_id(props: &UserProps) -> String {
        format!("{}/{}", props.broker_id, props.username)
    }

    fn could_have_issued(id: &str) -> bool {
        split_id(id).is_some()
    }

    async fn create(&self, props: UserProps, cx: &Cx) -> Result<Outcome, Error> {
        let (broker_id, username) = (props.broker_id.as_str(), props.username.as_str());
        self.activemq(broker_id).await?;
        let broker = self.wait_running(broker_id, cx).await?;
        let arn = broker.broker_arn().unwrap_or_default().to_owned();
        let not_owned = || Error::NotOwned {
            broker_id: broker_id.to_owned(),
            username: username.to_owned(),
        };
        if self.user(broker_id, username).await?.is_some() {
            if !self.owned(&arn, username, &cx.owner).await? {
                return Err(not_owned());
            }
            tracing::info!(
                broker_id,
                username,
                "user exists already and belongs to this resource; not creating it again"
            );
        } else {
            let password = self.password(&props, cx).await?;
            // Ownership first: a crash between the two leaves a tag without a user (harmless,
            // the next attempt creates the user), never a user nobody owns.
            self.record_request(&arn, username, cx).await?;
            let created = self
                .client
                .create_user()
                .broker_id(broker_id)
                .username(username)
                .password(password.expose())
                .set_console_access(props.console_access)
                .set_groups((!props.groups.is_empty()).then(|| props.groups.clone()))
                .set_replication_user(props.replication_user)
                .send()
                .await;
            match created {
                Ok(_) => cx.created(format!("{broker_id}/{username}")),
                Err(e) if is(&e, |e| e.is_conflict_exception()) => {
                    if !self.owned(&arn, username, &cx.owner).await? {
                        return Err(not_owned());
                    }
                }
                Err(e) => return Err(api("CreateUser", e)),
            }
        }
        self.settle(&props, &broker, cx).await
    }

    async fn update(
        &self,
        id: &str,
        props: UserProps,
        diff: &Diff,
        cx: &Cx,
    ) -> Result<Outcome, Error> {
        let (broker_id, username) = (props.broker_id.as_str(), props.username.as_str());
        self.activemq(broker_id).await?;
        let broker = self.wait_running(broker_id, cx).await?;
        if self.user(broker_id, username).await?.is_none() {
            return Err(Error::Missing {
                broker_id: broker_id.to_owned(),
                username: username.to_owned(),
            });
        }
        let mut update = self
            .client
            .update_user()
            .broker_id(broker_id)
            .username(username);
        let mut changes = Vec::new();
        // Never re-sent from an unchanged template: rotation may have changed it since.
        if diff.changed(&["Password", "PasswordSecretArn"]) {
            update = update.password(self.password(&props, cx).await?.expose());
            changes.push("Password");
        }
        if diff.changed(&["ConsoleAccess"]) {
            update = update.console_access(props.console_access.unwrap_or(false));
            changes.push("ConsoleAccess");
        }
        if diff.changed(&["Groups"]) {
            update = update.set_groups(Some(props.groups.clone()));
            changes.push("Groups");
        }
        if diff.changed(&["ReplicationUser"]) {
            update = update.replication_user(props.replication_user.unwrap_or(false));
            changes.push("ReplicationUser");
        }
        // Sent already, by an earlier invocation of this request (a continuation) or by a
        // delivery of this same event (a redelivery): sending it again would queue a new pending
        // change that the reboot already done would not apply.
        let arn = broker.broker_arn().unwrap_or_default();
        let sent = cx.is_done(UPDATE_STEP)
            || self
                .owner_tag(arn, username)
                .await?
                .as_deref()
                .and_then(|t| parse_owner_tag(t).1)
                == Some(cx.request_id.as_str());
        if !changes.is_empty() && !sent {
            tracing::info!(physical_id = id, changes = ?changes, "updating broker user");
            update.send().await.map_err(|e| api("UpdateUser", e))?;
            self.record_request(arn, username, cx).await?;
        }
        cx.mark_done(UPDATE_STEP);
        self.settle(&props, &broker, cx).await
    }

    async fn delete(&self, id: &str, props: &Map<String, Value>, cx: &Cx) -> Result<(), Error> {
        let Some((broker_id, username)) = split_id(id) else {
            return Ok(());
        };
        let Some(broker) = self.broker(broker_id).await? else {
            tracing::info!(broker_id, "broker does not exist; nothing to delete");
            return Ok(());
        };
        if broker.engine_type() == Some(&EngineType::Rabbitmq) {
            return Ok(()); // this function never creates users there
        }
        let arn = broker.broker_arn().unwrap_or_default();
        if !self.owned(arn, username, &cx.owner).await? {
            tracing::warn!(
                broker_id,
                username,
                "user is not managed by this resource; leaving it alone"
            );
            return Ok(());
        }
        match self.user(broker_id, username).await? {
            None => {}
            Some(pending) => {
                if pending != Some(ChangeType::Delete) {
                    self.wait_running(broker_id, cx).await?;
                    match self
                        .client
                        .delete_user()
                        .broker_id(broker_id)
                        .username(username)
                        .send()
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if is(&e, |e| e.is_not_found_exception()) => {}
                        Err(e) => return Err(api("DeleteUser", e)),
                    }
                }
                // Read leniently: a Delete must not fail on properties that no longer parse.
                let apply = props
                    .get("ApplyImmediately")
                    .is_some_and(|v| v == "true" || v == &Value::Bool(true));
                if apply {
                    self.reboot_once(broker_id, &broker, cx).await?;
                    self.wait_applied(broker_id, username, cx).await?;
                } else {
                    tracing::info!(
                        broker_id,
                        username,
                        "the deletion is pending until the broker's next reboot or maintenance window"
                    );
                }
            }
        }
        self.client
            .delete_tags()
            .resource_arn(arn)
            .tag_keys(owner_key(username))
            .send()
            .await
            .map_err(|e| api("DeleteTags", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::props;

    fn parse(v: Value) -> Result<UserProps, PropsError> {
        let p: UserProps = props::parse(v.as_object().unwrap())?;
        AmazonMqUser::validate(&p)?;
        Ok(p)
    }

    fn base() -> Value {
        json!({"BrokerId": "b-1234", "Username": "app.user_1~x", "Password": "Twelve-chars-ok",
               "ConsoleAccess": "true", "Groups": ["admins", "apps"], "ApplyImmediately": "false"})
    }

    #[test]
    fn valid_user_parses_string_booleans() {
        let p = parse(base()).unwrap();
        assert_eq!(p.console_access, Some(true));
        assert_eq!(p.apply_immediately, Some(false));
        assert_eq!(AmazonMqUser::physical_id(&p), "b-1234/app.user_1~x");
    }

    #[test]
    fn username_password_and_group_rules() {
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            parse(b).unwrap_err().to_string()
        };
        assert!(with("Username", json!("a")).contains("Username"));
        assert!(with("Username", json!("bad name")).contains("A-Z a-z 0-9"));
        let e = with("Password", json!("short-pw"));
        assert!(e.contains("at least 12") && !e.contains("short-pw"), "{e}");
        assert!(with("Password", json!("aaaaaaaaaaaaab")).contains("4 different"));
        let e = with("Password", json!("has:colon-in-it"));
        assert!(e.contains("contains :"), "{e}");
        assert!(with("Groups", json!(vec!["gg"; 21])).contains("at most 20"));
        assert!(with("Groups", json!(["ok", "x"])).contains("Groups[1]"));
        assert!(with("PasswordSecretArn", json!("arn:s")).contains("exclusive"));
        let mut b = base();
        b.as_object_mut().unwrap().remove("Password");
        assert!(
            parse(b)
                .unwrap_err()
                .to_string()
                .contains("Password or PasswordSecretArn")
        );
    }

    #[test]
    fn ids_this_type_issues() {
        assert_eq!(split_id("b-1234/app"), Some(("b-1234", "app")));
        for bad in [
            "app",
            "b-1/a",
            "userkeeper:failed-create:r",
            "arn:aws:mq:x/y:z",
            "/app",
        ] {
            assert!(split_id(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn owner_key_maps_the_tilde_tag_keys_cannot_hold() {
        assert_eq!(owner_key("app.user_1~x"), "userkeeper:user:app.user_1+x");
        assert_ne!(owner_key("a~b"), owner_key("a-b"));
    }

    #[test]
    fn owner_value_is_the_stack_guid_and_logical_id() {
        let owner = Owner {
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/app/0b5c-guid".into(),
            logical_id: "QueueUser".into(),
        };
        assert_eq!(owner_value(&owner), "0b5c-guid/QueueUser");
        let value = owner_tag_value(&owner, "req-1");
        assert_eq!(value, "0b5c-guid/QueueUser req-1");
        assert_eq!(
            parse_owner_tag(&value),
            ("0b5c-guid/QueueUser", Some("req-1"))
        );
        let long = Owner {
            logical_id: "L".repeat(300),
            ..owner
        };
        let value = owner_tag_value(&long, "6f1d7c1e-2b0a-4c55-9a8e-0c3b7a1f0d01");
        assert!(value.chars().count() <= 256);
        assert_eq!(parse_owner_tag(&value).0, owner_value(&long));
        assert_eq!(
            parse_owner_tag(&value).1,
            Some("6f1d7c1e-2b0a-4c55-9a8e-0c3b7a1f0d01")
        );
    }
}
