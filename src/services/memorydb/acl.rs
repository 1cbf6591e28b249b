//! `Custom::MemoryDBACL`.

use super::api;
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
use aws_sdk_memorydb::Client;
use serde::Deserialize;
use serde_json::{Map, Value, json};

type Item = aws_sdk_memorydb::types::Acl;

/// MemoryDB lists this user in every ACL without being asked: it is never removed unless the
/// template names it.
const IMPLICIT_USER: &str = "default";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AclProps {
    #[serde(rename = "ACLName")]
    pub acl_name: String,
    #[serde(default, deserialize_with = "string_list")]
    pub user_names: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Take over an existing resource made outside userkeeper (default false): it is tagged
    /// as this resource's, brought to the template, and deleted by its Delete.
    #[serde(default, deserialize_with = "flex_bool_opt")]
    pub adopt: Option<bool>,
}

pub struct Acl {
    client: Lazy<Client>,
}

impl Acl {
    pub fn new(client: impl Into<Lazy<Client>>) -> Self {
        Self {
            client: client.into(),
        }
    }
}

fn in_use(name: &str, clusters: &[String]) -> Option<Error> {
    (!clusters.is_empty()).then(|| Error::InUse {
        kind: "ACL",
        id: name.to_owned(),
        used_by: "used by cluster(s)",
        users: clusters.join(", "),
        fix: "point them at another ACL before deleting it",
    })
}

#[async_trait]
impl Kind for Acl {
    type Item = Item;
    type Tags = Client;
    const NOUN: &'static str = "ACL";
    const ID_WORD: &'static str = "name";

    async fn describe(&self, name: &str) -> Result<Option<Item>, Error> {
        match self.client.describe_acls().acl_name(name).send().await {
            Ok(out) => Ok(out.acls().iter().find(|a| a.name() == Some(name)).cloned()),
            Err(e) if is(&e, |e| e.is_acl_not_found_fault()) => Ok(None),
            Err(e) => Err(api("DescribeACLs", e).into()),
        }
    }
    fn status(acl: &Item) -> &str {
        acl.status().unwrap_or("unknown")
    }
    fn arn(acl: &Item) -> &str {
        acl.arn().unwrap_or_default()
    }
    fn tag_api(&self) -> &Client {
        &self.client
    }
    fn in_use(acl: &Item, name: &str) -> Option<Error> {
        in_use(name, acl.clusters())
    }
}

fn outcome(acl: &Item) -> Outcome {
    let mut data = Map::new();
    data.insert("Arn".into(), json!(acl.arn().unwrap_or_default()));
    data.insert("ACLName".into(), json!(acl.name().unwrap_or_default()));
    data.insert("Status".into(), json!(acl.status().unwrap_or_default()));
    Outcome {
        physical_id: acl.name().unwrap_or_default().to_owned(),
        data,
        no_echo: false,
    }
}

#[async_trait]
impl Resource for Acl {
    const TYPE: &'static str = "Custom::MemoryDBACL";
    type Props = AclProps;
    type Error = Error;

    fn validate(props: &AclProps) -> Result<(), PropsError> {
        check_id("ACLName", &props.acl_name)?;
        for (i, u) in props.user_names.iter().enumerate() {
            check_id(&format!("UserNames[{i}]"), u)?;
        }
        check_tags(&props.tags)
    }

    fn physical_id(props: &AclProps) -> String {
        props.acl_name.clone()
    }

    fn could_have_issued(id: &str) -> bool {
        is_valid_id(id)
    }

    async fn create(&self, props: AclProps, cx: &Cx) -> Result<Outcome, Error> {
        let name = props.acl_name.as_str();
        let made = lifecycle::create_once(self, name, props.adopt == Some(true), cx, || async {
            let created = self
                .client
                .create_acl()
                .acl_name(name)
                // The API takes at least one name when the list is given at all.
                .set_user_names((!props.user_names.is_empty()).then(|| props.user_names.clone()))
                .set_tags(Some(super::sdk_tags(tags::with_owner(
                    &props.tags,
                    &cx.owner,
                ))))
                .send()
                .await;
            lifecycle::creation(
                created,
                |e| e.is_acl_already_exists_fault(),
                |e| api("CreateACL", e),
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
        props: AclProps,
        diff: &Diff,
        cx: &Cx,
    ) -> Result<Outcome, Error> {
        let current = lifecycle::current_owned(self, name, cx).await?;
        let (add, remove) = membership::diff(current.user_names(), &props.user_names, |u| {
            u == IMPLICIT_USER
        });
        let changed = !add.is_empty() || !remove.is_empty();
        if changed {
            tracing::info!(acl_name = name, add = ?add, remove = ?remove, "updating ACL");
        }
        let update = self
            .client
            .update_acl()
            .acl_name(name)
            .set_user_names_to_add((!add.is_empty()).then_some(add))
            .set_user_names_to_remove((!remove.is_empty()).then_some(remove));
        let send = changed.then_some(|| async {
            let sent = update.clone().send().await;
            lifecycle::attempt(
                sent,
                |e| e.is_invalid_acl_state_fault(),
                |_| false,
                |e| api("UpdateACL", e),
            )
        });
        let after = lifecycle::After {
            tags: diff.changed(&["Tags"]).then_some(props.tags.as_slice()),
            ..Default::default()
        };
        let acl = lifecycle::update(self, name, cx, current, send, after).await?;
        Ok(outcome(&acl))
    }

    async fn delete(&self, name: &str, _props: &Map<String, Value>, cx: &Cx) -> Result<(), Error> {
        lifecycle::delete_owned(self, name, cx, || async {
            match self.client.delete_acl().acl_name(name).send().await {
                Ok(_) => Ok(Attempt::Done(())),
                Err(e) if is(&e, |e| e.is_acl_not_found_fault()) => Ok(Attempt::Gone),
                // Taken by a cluster since we looked (say which), or busy: wait, then again.
                Err(e) if is(&e, |e| e.is_invalid_acl_state_fault()) => {
                    match self.describe(name).await? {
                        Some(a) => in_use(name, a.clusters()).map_or(Ok(Attempt::Busy), Err),
                        None => Ok(Attempt::Gone),
                    }
                }
                Err(e) => Err(api("DeleteACL", e).into()),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::props;

    #[test]
    fn acl_props_use_the_acl_spelling() {
        let p: AclProps = props::parse(
            json!({"ACLName": "app-acl", "UserNames": ["app"]})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        Acl::validate(&p).unwrap();
        let e = props::parse::<AclProps>(json!({"AclName": "x"}).as_object().unwrap()).unwrap_err();
        assert!(e.0.contains("unknown property `AclName`"), "{e}");
    }
}
