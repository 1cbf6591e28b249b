//! `Custom::ElastiCacheUserGroup`.

use super::{Error, Tags, api, check_id, check_tags, is, is_valid_id, tags_with_owner};
use crate::cfn::props::{Diff, PropsError, Tag, string_list};
use crate::cfn::{Cx, Outcome, Resource};
use crate::wait::{self, Poll};
use async_trait::async_trait;
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::types::UserGroup as Group;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::user::Engine;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct UserGroupProps {
    pub user_group_id: String,
    pub engine: Engine,
    #[serde(deserialize_with = "string_list")]
    pub user_ids: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

pub struct UserGroup {
    client: Client,
}

impl UserGroup {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

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
            Err(e) => Err(api("DescribeUserGroups", e)),
        }
    }

    /// Accepts an existing group only if this resource made it.
    async fn adopt(&self, group: &Group, cx: &Cx) -> Result<(), Error> {
        let id = group.user_group_id().unwrap_or_default();
        if !Tags(&self.client)
            .owned_by(group.arn().unwrap_or_default(), &cx.owner)
            .await?
        {
            return Err(Error::NotOwned {
                kind: "user group",
                id: id.to_owned(),
            });
        }
        tracing::info!(
            user_group_id = id,
            "user group exists already and belongs to this resource; not creating it again"
        );
        Ok(())
    }

    async fn wait_active(&self, id: &str, cx: &Cx) -> Result<Group, Error> {
        wait::until(cx, &format!("user group {id} to become active"), || async {
            match self.describe(id).await? {
                None => Err(Error::Missing {
                    kind: "user group",
                    id: id.to_owned(),
                }),
                Some(g) if g.status() == Some("active") => Ok(Poll::Ready(g)),
                Some(g) => Ok(Poll::Pending(g.status().unwrap_or("unknown").to_owned())),
            }
        })
        .await
    }

    async fn wait_gone(&self, id: &str, cx: &Cx) -> Result<(), Error> {
        wait::until(cx, &format!("user group {id} to be deleted"), || async {
            Ok(match self.describe(id).await? {
                None => Poll::Ready(()),
                Some(g) => Poll::Pending(g.status().unwrap_or("unknown").to_owned()),
            })
        })
        .await
    }
}

fn outcome(group: &Group) -> Outcome {
    let mut data = serde_json::Map::new();
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

/// The membership change that turns `have` into `want`: (to add, to remove), in the order
/// given, without duplicates.
pub(crate) fn membership_diff(have: &[String], want: &[String]) -> (Vec<String>, Vec<String>) {
    let mut add: Vec<String> = Vec::new();
    for id in want {
        if !have.contains(id) && !add.contains(id) {
            add.push(id.clone());
        }
    }
    let remove = have
        .iter()
        .filter(|id| !want.contains(id))
        .cloned()
        .collect();
    (add, remove)
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
        // Look before creating, as for users.
        if let Some(existing) = self.describe(id).await? {
            self.adopt(&existing, cx).await?;
        } else {
            let created = self
                .client
                .create_user_group()
                .user_group_id(id)
                .engine(props.engine.as_str())
                .set_user_ids(Some(props.user_ids.clone()))
                .set_tags(Some(tags_with_owner(&props.tags, &cx.owner)))
                .send()
                .await;
            match created {
                Ok(_) => cx.created(id),
                Err(e) if is(&e, |e| e.is_user_group_already_exists_fault()) => {
                    let existing = self
                        .describe(id)
                        .await?
                        .ok_or_else(|| api("CreateUserGroup", e))?;
                    self.adopt(&existing, cx).await?;
                }
                Err(e) => return Err(api("CreateUserGroup", e)),
            }
        }
        Ok(outcome(&self.wait_active(id, cx).await?))
    }

    async fn update(
        &self,
        id: &str,
        props: UserGroupProps,
        diff: &Diff,
        cx: &Cx,
    ) -> Result<Outcome, Error> {
        let current = self.wait_active(id, cx).await?;
        if current.engine() != Some(props.engine.as_str()) {
            return Err(Error::NeedsNewId {
                kind: "user group",
                property: "Engine",
                id_property: "UserGroupId",
            });
        }
        // Diff against what the group holds now, not the old template: that also repairs
        // drift and stays right during a rollback.
        let (add, remove) = membership_diff(current.user_ids(), &props.user_ids);
        let changed = !add.is_empty() || !remove.is_empty();
        if changed {
            tracing::info!(user_group_id = id, add = ?add, remove = ?remove, "modifying user group");
            self.client
                .modify_user_group()
                .user_group_id(id)
                .set_user_ids_to_add((!add.is_empty()).then_some(add))
                .set_user_ids_to_remove((!remove.is_empty()).then_some(remove))
                .send()
                .await
                .map_err(|e| api("ModifyUserGroup", e))?;
        }
        if diff.changed(&["Tags"]) {
            Tags(&self.client)
                .sync(current.arn().unwrap_or_default(), &props.tags)
                .await?;
        }
        let group = if changed {
            self.wait_active(id, cx).await?
        } else {
            current
        };
        Ok(outcome(&group))
    }

    async fn delete(&self, id: &str, _props: &Map<String, Value>, cx: &Cx) -> Result<(), Error> {
        let Some(group) = self.describe(id).await? else {
            tracing::info!(
                user_group_id = id,
                "user group does not exist; nothing to delete"
            );
            return Ok(());
        };
        if !Tags(&self.client)
            .owned_by(group.arn().unwrap_or_default(), &cx.owner)
            .await?
        {
            tracing::warn!(
                user_group_id = id,
                "user group is not managed by this resource; leaving it alone"
            );
            return Ok(());
        }
        if !group.replication_groups().is_empty() {
            return Err(Error::GroupInUse {
                id: id.to_owned(),
                groups: group.replication_groups().join(", "),
            });
        }
        if group.status() != Some("deleting") {
            if group.status() != Some("active") {
                self.wait_active(id, cx).await?;
            }
            match self
                .client
                .delete_user_group()
                .user_group_id(id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is(&e, |e| e.is_user_group_not_found_fault()) => return Ok(()),
                Err(e) if is(&e, |e| e.is_invalid_user_group_state_fault()) => {
                    // Associated since we looked, or a state we did not see: say which.
                    let groups = self
                        .describe(id)
                        .await?
                        .map(|g| g.replication_groups().join(", "))
                        .filter(|g| !g.is_empty());
                    return Err(match groups {
                        Some(groups) => Error::GroupInUse {
                            id: id.to_owned(),
                            groups,
                        },
                        None => api("DeleteUserGroup", e),
                    });
                }
                Err(e) => return Err(api("DeleteUserGroup", e)),
            }
        }
        self.wait_gone(id, cx).await
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
    fn membership_diff_adds_and_removes_only_the_difference() {
        let (add, remove) =
            membership_diff(&s(&["default", "a", "b"]), &s(&["default", "b", "c", "c"]));
        assert_eq!(add, s(&["c"]));
        assert_eq!(remove, s(&["a"]));
        let (add, remove) = membership_diff(&s(&["default"]), &s(&["default"]));
        assert!(add.is_empty() && remove.is_empty());
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
