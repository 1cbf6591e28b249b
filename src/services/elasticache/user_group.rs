//! `Custom::ElastiCacheUserGroup`.

use super::api;
use super::user::Engine;
use crate::aws::Lazy;
use crate::cfn::props::{Diff, PropsError, Tag, flex_bool_opt, string_list};
use crate::cfn::{Cx, Outcome, Resource};
use crate::error::is;
use crate::services::common::lifecycle::{self, Attempt, Kind};
use crate::services::common::membership;
use crate::services::common::rules::{check_id, is_valid_id};
use crate::services::common::tags::{self, check_tags};
use crate::services::error::Error;
use async_trait::async_trait;
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::types::{AuthenticationType, UserGroup as Group};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct UserGroupProps {
    pub user_group_id: String,
    pub engine: Engine,
    #[serde(deserialize_with = "string_list")]
    pub user_ids: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Take over an existing resource made outside userkeeper (default false): it is tagged
    /// as this resource's, brought to the template, and deleted by its Delete.
    #[serde(default, deserialize_with = "flex_bool_opt")]
    pub adopt: Option<bool>,
}

pub struct UserGroup {
    client: Lazy<Client>,
}

impl UserGroup {
    pub fn new(client: impl Into<Lazy<Client>>) -> Self {
        Self {
            client: client.into(),
        }
    }

    /// A valkey group takes only users that authenticate (ElastiCache RBAC guide): refused
    /// here, before the group is created or changed, naming the users. Users that do not
    /// exist are left for the service to name.
    async fn check_members(
        &self,
        id: &str,
        engine: Engine,
        members: &[String],
    ) -> Result<(), Error> {
        if engine != Engine::Valkey {
            return Ok(());
        }
        let mut without = Vec::new();
        for member in members {
            let user = match self.client.describe_users().user_id(member).send().await {
                Ok(out) => out.users().first().cloned(),
                Err(e) if is(&e, |e| e.is_user_not_found_fault()) => None,
                Err(e) => return Err(api("DescribeUsers", e).into()),
            };
            let kind = user
                .as_ref()
                .and_then(|u| u.authentication()?.r#type().cloned());
            if kind == Some(AuthenticationType::NoPassword) {
                without.push(format!("{member:?}"));
            }
        }
        if without.is_empty() {
            return Ok(());
        }
        Err(Error::NoPasswordMembers {
            group: id.to_owned(),
            users: without.join(", "),
        })
    }
}

/// What still uses the group: AWS refuses to delete it while a replication group or a
/// serverless cache does.
fn in_use(id: &str, group: &Group) -> Option<Error> {
    let mut users = Vec::new();
    if !group.replication_groups().is_empty() {
        users.push(format!(
            "replication group(s) {}",
            group.replication_groups().join(", ")
        ));
    }
    if !group.serverless_caches().is_empty() {
        users.push(format!(
            "serverless cache(s) {}",
            group.serverless_caches().join(", ")
        ));
    }
    (!users.is_empty()).then(|| Error::InUse {
        kind: "user group",
        id: id.to_owned(),
        used_by: "associated with",
        users: users.join(" and "),
        fix: "remove it from their UserGroupIds (or delete them) before deleting the group",
    })
}

#[async_trait]
impl Kind for UserGroup {
    type Item = Group;
    type Tags = Client;
    const NOUN: &'static str = "user group";
    const ID_WORD: &'static str = "id";

    async fn describe(&self, id: &str) -> Result<Option<Group>, Error> {
        match self
            .client
            .describe_user_groups()
            .user_group_id(id)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .user_groups()
                .iter()
                .find(|g| g.user_group_id() == Some(id))
                .cloned()),
            Err(e) if is(&e, |e| e.is_user_group_not_found_fault()) => Ok(None),
            Err(e) => Err(api("DescribeUserGroups", e).into()),
        }
    }
    fn status(group: &Group) -> &str {
        group.status().unwrap_or("unknown")
    }
    fn arn(group: &Group) -> &str {
        group.arn().unwrap_or_default()
    }
    fn tag_api(&self) -> &Client {
        &self.client
    }
    fn in_use(group: &Group, id: &str) -> Option<Error> {
        in_use(id, group)
    }
}

fn outcome(group: &Group) -> Outcome {
    let mut data = Map::new();
    data.insert("Arn".into(), json!(group.arn().unwrap_or_default()));
    data.insert(
        "UserGroupId".into(),
        json!(group.user_group_id().unwrap_or_default()),
    );
    data.insert("Status".into(), json!(group.status().unwrap_or_default()));
    Outcome {
        physical_id: group.user_group_id().unwrap_or_default().to_owned(),
        data,
        no_echo: false,
    }
}

#[async_trait]
impl Resource for UserGroup {
    const TYPE: &'static str = "Custom::ElastiCacheUserGroup";
    type Props = UserGroupProps;
    type Error = Error;

    fn validate(props: &UserGroupProps) -> Result<(), PropsError> {
        check_id("UserGroupId", &props.user_group_id)?;
        for (i, id) in props.user_ids.iter().enumerate() {
            check_id(&format!("UserIds[{i}]"), id)?;
        }
        check_tags(&props.tags)
    }

    fn physical_id(props: &UserGroupProps) -> String {
        props.user_group_id.clone()
    }

    fn could_have_issued(id: &str) -> bool {
        is_valid_id(id)
    }

    async fn create(&self, props: UserGroupProps, cx: &Cx) -> Result<Outcome, Error> {
        let id = props.user_group_id.as_str();
        let made = lifecycle::create_once(self, id, props.adopt == Some(true), cx, || async {
            self.check_members(id, props.engine, &props.user_ids)
                .await?;
            let created = self
                .client
                .create_user_group()
                .user_group_id(id)
                .engine(props.engine.as_str())
                .set_user_ids(Some(props.user_ids.clone()))
                .set_tags(Some(super::sdk_tags(tags::with_owner(
                    &props.tags,
                    &cx.owner,
                ))))
                .send()
                .await;
            lifecycle::creation(
                created,
                |e| e.is_user_group_already_exists_fault(),
                |e| api("CreateUserGroup", e),
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
        props: UserGroupProps,
        diff: &Diff,
        cx: &Cx,
    ) -> Result<Outcome, Error> {
        let current = lifecycle::current_owned(self, id, cx).await?;
        if current.engine() != Some(props.engine.as_str()) {
            return Err(Error::NeedsNewId {
                kind: "user group",
                property: "Engine",
                id_property: "UserGroupId",
            });
        }
        let (add, remove) = membership::diff(current.user_ids(), &props.user_ids, |_| false);
        self.check_members(id, props.engine, &add).await?;
        let changed = !add.is_empty() || !remove.is_empty();
        if changed {
            tracing::info!(user_group_id = id, add = ?add, remove = ?remove, "modifying user group");
        }
        let modify = self
            .client
            .modify_user_group()
            .user_group_id(id)
            .set_user_ids_to_add((!add.is_empty()).then_some(add))
            .set_user_ids_to_remove((!remove.is_empty()).then_some(remove));
        let send = changed.then_some(|| async {
            let sent = modify.clone().send().await;
            lifecycle::attempt(
                sent,
                |e| e.is_invalid_user_group_state_fault(),
                |_| false,
                |e| api("ModifyUserGroup", e),
            )
        });
        let after = lifecycle::After {
            tags: diff.changed(&["Tags"]).then_some(props.tags.as_slice()),
            ..Default::default()
        };
        let group = lifecycle::update(self, id, cx, current, send, after).await?;
        Ok(outcome(&group))
    }

    async fn delete(&self, id: &str, _props: &Map<String, Value>, cx: &Cx) -> Result<(), Error> {
        lifecycle::delete_owned(self, id, cx, || async {
            match self
                .client
                .delete_user_group()
                .user_group_id(id)
                .send()
                .await
            {
                Ok(_) => Ok(Attempt::Done(())),
                Err(e) if is(&e, |e| e.is_user_group_not_found_fault()) => Ok(Attempt::Gone),
                // Associated since we looked (say with what), or busy: wait, then again.
                Err(e) if is(&e, |e| e.is_invalid_user_group_state_fault()) => {
                    match self.describe(id).await? {
                        Some(g) => in_use(id, &g).map_or(Ok(Attempt::Busy), Err),
                        None => Ok(Attempt::Gone),
                    }
                }
                Err(e) => Err(api("DeleteUserGroup", e).into()),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::props;
    use serde_json::json;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn props_parse_and_validate() {
        let p: UserGroupProps = props::parse(json!({
            "UserGroupId": "app-group", "Engine": "valkey", "UserIds": ["default-user", "app-user"],
            "ServiceTimeout": "600"
        }).as_object().unwrap()).unwrap();
        UserGroup::validate(&p).unwrap();
        assert_eq!(p.user_ids, s(&["default-user", "app-user"]));
        let p: UserGroupProps = props::parse(
            json!({
                "UserGroupId": "app-group", "Engine": "redis", "UserIds": ["ok", "not_ok"]
            })
            .as_object()
            .unwrap(),
        )
        .unwrap();
        let e = UserGroup::validate(&p).unwrap_err().to_string();
        assert!(e.contains("UserIds[1]"), "{e}");
    }
}
