//! `Custom::AmazonMQUser`.
//!
//! Ownership, the last request sent and the secret binding are one broker tag per user (see
//! `record`).

use super::api;
use super::broker::Brokers;
use super::record::{self, Binding, BrokerTags, MAX_BROKER_TAGS, Record, owner_key};
use crate::aws::Secrets;
use crate::cfn::props::{Diff, PropsError, flex_bool_opt, string_list};
use crate::cfn::{Cx, Outcome, Resource};
use crate::error::is;
use crate::redact::Secret;
use crate::services::common::amazon_mq::{
    CLONE_SUFFIX, check_mq_name, check_mq_password, is_broker_id, split_user_id,
};
use crate::services::common::binding;
use crate::services::error::Error;
use async_trait::async_trait;
use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;
use aws_sdk_mq::types::{BrokerState, ChangeType, EngineType};
use serde::Deserialize;
use serde_json::{Map, Value, json};

const REBOOT_STEP: &str = "reboot";
const UPDATE_STEP: &str = "update-sent";

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
    /// Take over an existing user made outside userkeeper (default false): its ownership is
    /// recorded, it is brought to the template, and this resource's Delete deletes it.
    #[serde(default, deserialize_with = "flex_bool_opt")]
    pub adopt: Option<bool>,
}

pub struct User {
    brokers: Brokers,
    secrets: Secrets,
}

impl User {
    pub(super) fn new(brokers: Brokers, secrets: Secrets) -> Self {
        Self { brokers, secrets }
    }

    async fn write_record(
        &self,
        broker_arn: &str,
        username: &str,
        record: &Record,
    ) -> Result<(), Error> {
        self.brokers
            .set_tag(broker_arn, owner_key(username), record.render())
            .await
    }

    /// Removes what older versions kept in other tags, once the record holds it.
    async fn drop_legacy(
        &self,
        broker_arn: &str,
        username: &str,
        tags: &BrokerTags,
    ) -> Result<(), Error> {
        let clone = format!("{username}{CLONE_SUFFIX}");
        self.brokers
            .delete_tags(broker_arn, tags.legacy(username, &clone))
            .await
    }

    /// Refuses, before any change, a user whose record would not fit on the broker.
    fn check_room(tags: &BrokerTags, broker_id: &str, username: &str) -> Result<(), Error> {
        tags.room_for(username)
            .map_err(|count| Error::BrokerTagsFull {
                broker_id: broker_id.to_owned(),
                username: username.to_owned(),
                count,
                max: MAX_BROKER_TAGS,
            })
    }

    /// The password, and the full ARN of the secret it came from (the secret the user is
    /// bound to), if any.
    async fn password(
        &self,
        props: &UserProps,
        cx: &Cx,
    ) -> Result<(Secret, Option<String>), Error> {
        match (&props.password, &props.password_secret_arn) {
            (Some(p), _) => Ok((p.clone(), None)),
            (None, Some(arn)) => {
                let current = self.secrets.current(arn, &cx.redactor).await?;
                check_mq_password("PasswordSecretArn (its password)", &current.password)?;
                Ok((current.password, Some(current.arn)))
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
            .brokers
            .user(broker_id, username)
            .await?
            .ok_or_else(|| Error::MissingOnBroker {
                broker_id: broker_id.to_owned(),
                username: username.to_owned(),
            })?;
        let pending = match pending {
            Some(_) if props.apply_immediately == Some(true) => {
                self.reboot_once(broker_id, broker, cx).await?;
                self.brokers.wait_applied(broker_id, username, cx).await?;
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
        // Which user of an alternating pair clients log in as now: the one the secret names.
        let live = match props.password_secret_arn.as_deref() {
            Some(arn) => {
                let named = self.secrets.current(arn, &cx.redactor).await?.username;
                let clone = format!("{username}{CLONE_SUFFIX}");
                named.filter(|n| *n == clone)
            }
            None => None,
        };
        let mut data = Map::new();
        data.insert("BrokerId".into(), json!(broker_id));
        data.insert("Username".into(), json!(username));
        data.insert(
            "LiveUsername".into(),
            json!(live.as_deref().unwrap_or(username)),
        );
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
            .brokers
            .describe(broker_id)
            .await?
            .and_then(|b| b.broker_state().cloned());
        if state.as_ref().or(broker.broker_state()) != Some(&BrokerState::RebootInProgress) {
            tracing::info!(
                broker_id,
                "rebooting the broker to apply the user change (ApplyImmediately)"
            );
            self.brokers.reboot(broker_id).await?;
        }
        cx.mark_done(REBOOT_STEP);
        Ok(())
    }
}

#[async_trait]
impl Resource for User {
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
        // Amazon MQ refuses the pair (BadRequestException; terraform-provider-aws #32446).
        if props.console_access == Some(true) && props.replication_user == Some(true) {
            return Err(PropsError(
                "ConsoleAccess and ReplicationUser cannot both be true: Amazon MQ refuses a \
                 replication user with console access; set one of them to \"false\""
                    .into(),
            ));
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
        split_user_id(id).is_some()
    }

    const STEPS: &'static [&'static str] = &[REBOOT_STEP, UPDATE_STEP];

    async fn create(&self, props: UserProps, cx: &Cx) -> Result<Outcome, Error> {
        let (broker_id, username) = (props.broker_id.as_str(), props.username.as_str());
        self.brokers.activemq(broker_id).await?;
        let broker = self.brokers.wait_running(broker_id, cx).await?;
        let arn = broker.broker_arn().unwrap_or_default().to_owned();
        let not_owned = || Error::NotOwnedOnBroker {
            broker_id: broker_id.to_owned(),
            username: username.to_owned(),
            tag: owner_key(username),
        };
        let tags = self.brokers.tags(&arn).await?;
        let record = tags.record(username);
        if self.brokers.user(broker_id, username).await?.is_some() {
            if record.is_none() && props.adopt == Some(true) {
                // Made outside userkeeper, and the template asks to take it over: record the
                // ownership (with no request id: the change is not sent yet), then bring the
                // user to the template like an Update would.
                Self::check_room(&tags, broker_id, username)?;
                let adopted = Record::new(&cx.owner, None, None);
                self.write_record(&arn, username, &adopted).await?;
                tracing::warn!(
                    broker_id,
                    username,
                    "adopted a broker user made outside userkeeper (Adopt): this resource now \
                     manages it, and its Delete deletes it"
                );
                let id = format!("{broker_id}/{username}");
                return self.update(&id, props, &Diff::all(), cx).await;
            }
            if !record.is_some_and(|r| r.owned_by(&cx.owner)) {
                return Err(not_owned());
            }
            tracing::info!(
                broker_id,
                username,
                "user exists already and belongs to this resource; not creating it again"
            );
        } else {
            let (password, bound) = self.password(&props, cx).await?;
            Self::check_room(&tags, broker_id, username)?;
            // After a conflict, only a record that was ours before this request wrote it says
            // the user is ours.
            let ours_before = record.as_ref().is_some_and(|r| r.owned_by(&cx.owner));
            // The record first: a crash between the two leaves a record without a user
            // (harmless, the next attempt creates the user), never a user nobody owns.
            let written = Record::new(&cx.owner, Some(&cx.request_id), bound.as_deref());
            self.write_record(&arn, username, &written).await?;
            let created = self
                .brokers
                .client
                .create_user()
                .broker_id(broker_id)
                .username(username)
                .password(password.expose())
                .set_console_access(props.console_access)
                .set_groups((!props.groups.is_empty()).then(|| props.groups.clone()))
                // Sent even when false: AWS has refused ConsoleAccess with ReplicationUser left
                // out (terraform-provider-aws #32446).
                .replication_user(props.replication_user.unwrap_or(false))
                .send()
                .await;
            match created {
                Ok(_) => {
                    cx.created(format!("{broker_id}/{username}"));
                    // Leftovers of an earlier user of this name: the record now says all.
                    self.drop_legacy(&arn, username, &tags).await?;
                }
                // Created by someone between our look and our create.
                Err(e) if is(&e, |e| e.is_conflict_exception()) => {
                    if !ours_before {
                        // Someone else's user: take back the record this request wrote,
                        // unless another writer has replaced it since.
                        let key = owner_key(username);
                        let now = self.brokers.tags(&arn).await?.0.remove(&key);
                        if now.as_deref() == Some(written.render().as_str()) {
                            match tags.0.get(&key) {
                                Some(before) => {
                                    self.brokers.set_tag(&arn, key, before.clone()).await?
                                }
                                None => self.brokers.delete_tags(&arn, vec![key]).await?,
                            }
                        }
                        return Err(not_owned());
                    }
                }
                Err(e) => return Err(api("CreateUser", e).into()),
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
        self.brokers.activemq(broker_id).await?;
        let broker = self.brokers.wait_running(broker_id, cx).await?;
        if self.brokers.user(broker_id, username).await?.is_none() {
            return Err(Error::MissingOnBroker {
                broker_id: broker_id.to_owned(),
                username: username.to_owned(),
            });
        }
        // Only this resource's own: the event may come from another stack sharing the function
        // (and with ApplyImmediately it would reboot the broker).
        let arn = broker.broker_arn().unwrap_or_default();
        let tags = self.brokers.tags(arn).await?;
        let Some(mut record) = tags.record(username).filter(|r| r.owned_by(&cx.owner)) else {
            return Err(Error::UpdateNotOwned {
                kind: "user",
                id: id.to_owned(),
                id_word: "Username",
                found: match tags.record(username) {
                    Some(other) => format!(
                        "the broker's tag {} names {}",
                        owner_key(username),
                        other.owner
                    ),
                    None => format!(
                        "the broker has no tag {}: userkeeper did not create it",
                        owner_key(username)
                    ),
                },
            });
        };
        let before = record.render();
        let mut update = self
            .brokers
            .client
            .update_user()
            .broker_id(broker_id)
            .username(username);
        let mut changes = Vec::new();
        let mut bound = None;
        // Never re-sent from an unchanged template: rotation may have changed it since.
        if diff.changed(&["Password", "PasswordSecretArn"]) {
            let (password, secret) = self.password(&props, cx).await?;
            update = update.password(password.expose());
            bound = Some(secret);
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
        let sent = cx.is_done(UPDATE_STEP) || record.request.as_deref() == Some(&cx.request_id);
        if !changes.is_empty() && !sent {
            tracing::info!(physical_id = id, changes = ?changes, "updating broker user");
            update.send().await.map_err(|e| api("UpdateUser", e))?;
            // The clone that alternating rotation made (it may be the live user) keeps the
            // same groups and console access.
            let clone = format!("{username}{CLONE_SUFFIX}");
            let access = diff.changed(&["ConsoleAccess", "Groups"]);
            if access && self.brokers.user(broker_id, &clone).await?.is_some() {
                tracing::info!(broker_id, clone, "updating the rotation clone alike");
                self.brokers
                    .client
                    .update_user()
                    .broker_id(broker_id)
                    .username(&clone)
                    .console_access(props.console_access.unwrap_or(false))
                    .set_groups(Some(props.groups.clone()))
                    .send()
                    .await
                    .map_err(|e| api("UpdateUser", e))?;
            }
            record.request = Some(cx.request_id.chars().take(55).collect());
        }
        record.binding = Some(match (bound, record.binding.take()) {
            (Some(secret), _) => {
                secret.map_or(Binding::Unbound, |a| Binding::Digest(binding::digest(&a)))
            }
            (None, Some(kept)) => kept,
            // The older form: the binding moves from its own tag into the record.
            (None, None) => match tags.0.get(&record::operator_binding_key(username)) {
                Some(arn) => Binding::Digest(binding::digest(arn)),
                None => Binding::Unbound,
            },
        });
        if record.render() != before {
            self.write_record(arn, username, &record).await?;
        }
        self.drop_legacy(arn, username, &tags).await?;
        cx.mark_done(UPDATE_STEP);
        self.settle(&props, &broker, cx).await
    }

    async fn delete(&self, id: &str, props: &Map<String, Value>, cx: &Cx) -> Result<(), Error> {
        let Some((broker_id, username)) = split_user_id(id) else {
            return Ok(());
        };
        let Some(broker) = self.brokers.describe(broker_id).await? else {
            tracing::info!(broker_id, "broker does not exist; nothing to delete");
            return Ok(());
        };
        if broker.engine_type() == Some(&EngineType::Rabbitmq) {
            return Ok(()); // this function never creates users there
        }
        let arn = broker.broker_arn().unwrap_or_default();
        let tags = self.brokers.tags(arn).await?;
        if !tags.record(username).is_some_and(|r| r.owned_by(&cx.owner)) {
            tracing::warn!(
                broker_id,
                username,
                "user is not managed by this resource; leaving it alone"
            );
            return Ok(());
        }
        // The user, and the clone alternating rotation made for it: a clone left behind would
        // still log in with the AWSCURRENT password.
        let clone = format!("{username}{CLONE_SUFFIX}");
        let mut deleted = Vec::new();
        for name in [username, clone.as_str()] {
            let Some(pending) = self.brokers.user(broker_id, name).await? else {
                continue;
            };
            if pending != Some(ChangeType::Delete) {
                self.brokers.wait_running(broker_id, cx).await?;
                match self
                    .brokers
                    .client
                    .delete_user()
                    .broker_id(broker_id)
                    .username(name)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is(&e, |e| e.is_not_found_exception()) => {}
                    Err(e) => return Err(api("DeleteUser", e).into()),
                }
            }
            deleted.push(name);
        }
        if !deleted.is_empty() {
            // Read leniently: a Delete must not fail on properties that no longer parse.
            let apply = props
                .get("ApplyImmediately")
                .is_some_and(|v| v == "true" || v == &Value::Bool(true));
            if apply {
                self.reboot_once(broker_id, &broker, cx).await?;
                for name in deleted {
                    self.brokers.wait_applied(broker_id, name, cx).await?;
                }
            } else {
                tracing::info!(
                    broker_id,
                    username,
                    "the deletion is pending until the broker's next reboot or maintenance window"
                );
            }
        }
        let mut gone = tags.legacy(username, &clone);
        gone.push(owner_key(username));
        self.brokers.delete_tags(arn, gone).await
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
        json!({"BrokerId": "b-1234", "Username": "app.user_1~x", "Password": "Twelve-chars-ok",
               "ConsoleAccess": "true", "Groups": ["admins", "apps"], "ApplyImmediately": "false"})
    }

    #[test]
    fn valid_user_parses_string_booleans() {
        let p = parse(base()).unwrap();
        assert_eq!(p.console_access, Some(true));
        assert_eq!(p.apply_immediately, Some(false));
        assert_eq!(User::physical_id(&p), "b-1234/app.user_1~x");
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
        let e = with("ReplicationUser", json!("true"));
        assert!(e.contains("ConsoleAccess and ReplicationUser"), "{e}");
        let mut b = base();
        b.as_object_mut().unwrap().remove("Password");
        assert!(
            parse(b)
                .unwrap_err()
                .to_string()
                .contains("Password or PasswordSecretArn")
        );
    }
}
