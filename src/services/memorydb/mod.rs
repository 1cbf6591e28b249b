//! Amazon MemoryDB: `Custom::MemoryDBUser` and `Custom::MemoryDBACL`.

mod rotator;

pub use rotator::MemoryDbRotator;

use super::rules::{check_id, check_passwords, check_tags, is_valid_id};
use super::{Registry, Shared, is};
use crate::cfn::props::{Diff, PropsError, Tag, string_list};
use crate::cfn::resource::CHANGE_SENT;
use crate::cfn::{Cx, Outcome, Owner, Resource};
use crate::redact::Secret;
use crate::secrets::{SecretError, Secrets};
use crate::wait::{self, Poll, Waiting};
use async_trait::async_trait;
use aws_sdk_memorydb::Client;
use aws_sdk_memorydb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_memorydb::types::{Acl, AuthenticationMode, InputAuthenticationType, User};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Registers this service's resource types.
pub fn register(registry: &mut Registry<'_>, shared: &Shared<'_>) {
    let client = Client::new(shared.sdk);
    let user = || MemoryDbUser {
        client: client.clone(),
        secrets: shared.secrets.clone(),
    };
    registry.provider.register(user());
    registry.provider.register(MemoryDbAcl {
        client: client.clone(),
    });
    registry.rotators.register(MemoryDbRotator {
        client: client.clone(),
        users: user(),
        login: shared.login.clone(),
    });
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] super::ApiError),
    #[error(
        "{kind} {id:?} already exists and is not managed by this stack and logical id (it lacks \
         the tags {stack_tag}/{logical_tag} naming them); pick another name, or delete the \
         existing {kind} first",
        stack_tag = Owner::STACK_TAG, logical_tag = Owner::LOGICAL_TAG
    )]
    NotOwned { kind: &'static str, id: String },
    #[error("{kind} {id:?} does not exist; it may have been deleted outside CloudFormation")]
    Missing { kind: &'static str, id: String },
    #[error(
        "ACL {id:?} is still used by cluster(s) {clusters}; point them at another ACL before \
         deleting it"
    )]
    AclInUse { id: String, clusters: String },
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
    super::api_error("MemoryDB", op, e).into()
}

fn tags_with_owner(tags: &[Tag], owner: &Owner) -> Vec<aws_sdk_memorydb::types::Tag> {
    owner
        .tags()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(tags.iter().map(|t| (t.key.clone(), t.value.clone())))
        .map(|(k, v)| {
            aws_sdk_memorydb::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

async fn list_tags(client: &Client, arn: &str) -> Result<Vec<(String, String)>, Error> {
    let out = client
        .list_tags()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| api("ListTags", e))?;
    Ok(out
        .tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

async fn owned_by(client: &Client, arn: &str, owner: &Owner) -> Result<bool, Error> {
    let tags = list_tags(client, arn).await?;
    Ok(owner.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}

/// Makes the template's tags match `want`, leaving the ownership tags alone.
async fn sync_tags(client: &Client, arn: &str, want: &[Tag]) -> Result<(), Error> {
    let (set, remove) = super::rules::tag_changes(&list_tags(client, arn).await?, want);
    let add: Vec<_> = set
        .iter()
        .map(|t| {
            aws_sdk_memorydb::types::Tag::builder()
                .key(&t.key)
                .value(&t.value)
                .build()
        })
        .collect();
    if !remove.is_empty() {
        client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| api("UntagResource", e))?;
    }
    if !add.is_empty() {
        client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(add))
            .send()
            .await
            .map_err(|e| api("TagResource", e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Users

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

#[derive(Debug, PartialEq, Eq)]
enum Auth {
    Passwords(Vec<Secret>),
    FromSecret(String),
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

pub struct MemoryDbUser {
    client: Client,
    secrets: Secrets,
}

impl MemoryDbUser {
    async fn authentication_mode(
        &self,
        props: &UserProps,
        cx: &Cx,
    ) -> Result<AuthenticationMode, Error> {
        let (kind, passwords) = match props.auth()? {
            Auth::Passwords(p) => (InputAuthenticationType::Password, p),
            Auth::FromSecret(arn) => {
                let passwords = vec![self.secrets.current_password(&arn, &cx.redactor).await?];
                check_passwords("PasswordSecretArn (its password)", &passwords)?;
                (InputAuthenticationType::Password, passwords)
            }
            Auth::Iam => (InputAuthenticationType::Iam, vec![]),
        };
        Ok(AuthenticationMode::builder()
            .r#type(kind)
            .set_passwords(
                (!passwords.is_empty())
                    .then(|| passwords.iter().map(|p| p.expose().to_owned()).collect()),
            )
            .build())
    }

    pub(super) async fn describe(&self, name: &str) -> Result<Option<User>, Error> {
        match self.client.describe_users().user_name(name).send().await {
            Ok(out) => Ok(out.users().iter().find(|u| u.name() == Some(name)).cloned()),
            Err(e) if is(&e, |e| e.is_user_not_found_fault()) => Ok(None),
            Err(e) => Err(api("DescribeUsers", e)),
        }
    }

    async fn adopt(&self, user: &User, cx: &Cx) -> Result<(), Error> {
        let name = user.name().unwrap_or_default();
        if !owned_by(&self.client, user.arn().unwrap_or_default(), &cx.owner).await? {
            return Err(Error::NotOwned {
                kind: "user",
                id: name.to_owned(),
            });
        }
        tracing::info!(
            user_name = name,
            "user exists already and belongs to this resource; not creating it again"
        );
        Ok(())
    }

    pub(super) async fn wait_active(&self, name: &str, cx: &impl Waiting) -> Result<User, Error> {
        wait::until(cx, &format!("user {name} to become active"), || async {
            match self.describe(name).await? {
                None => Err(Error::Missing {
                    kind: "user",
                    id: name.to_owned(),
                }),
                Some(u) if u.status() == Some("active") => Ok(Poll::Ready(u)),
                Some(u) => Ok(Poll::Pending(u.status().unwrap_or("unknown").to_owned())),
            }
        })
        .await
    }

    async fn wait_gone(&self, name: &str, cx: &Cx) -> Result<(), Error> {
        wait::until(cx, &format!("user {name} to be deleted"), || async {
            Ok(match self.describe(name).await? {
                None => Poll::Ready(()),
                Some(u) => Poll::Pending(u.status().unwrap_or("unknown").to_owned()),
            })
        })
        .await
    }
}

fn user_outcome(user: &User) -> Outcome {
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
impl Resource for MemoryDbUser {
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
        // Look before creating: a redelivered event finds its own user; anyone else's is
        // refused without a write.
        if let Some(existing) = self.describe(name).await? {
            self.adopt(&existing, cx).await?;
        } else {
            let mode = self.authentication_mode(&props, cx).await?;
            let created = self
                .client
                .create_user()
                .user_name(name)
                .access_string(&props.access_string)
                .authentication_mode(mode)
                .set_tags(Some(tags_with_owner(&props.tags, &cx.owner)))
                .send()
                .await;
            match created {
                Ok(_) => cx.created(name),
                Err(e) if is(&e, |e| e.is_user_already_exists_fault()) => {
                    let existing = self
                        .describe(name)
                        .await?
                        .ok_or_else(|| api("CreateUser", e))?;
                    self.adopt(&existing, cx).await?;
                }
                Err(e) => return Err(api("CreateUser", e)),
            }
        }
        Ok(user_outcome(&self.wait_active(name, cx).await?))
    }

    async fn update(
        &self,
        name: &str,
        props: UserProps,
        diff: &Diff,
        cx: &Cx,
    ) -> Result<Outcome, Error> {
        let current = self.wait_active(name, cx).await?;
        let mut update = self.client.update_user().user_name(name);
        let mut changes = Vec::new();
        if diff.changed(&["AccessString"]) {
            update = update.access_string(&props.access_string);
            changes.push("AccessString");
        }
        if diff.changed(&AUTH_PROPERTIES) {
            update = update.authentication_mode(self.authentication_mode(&props, cx).await?);
            changes.push("authentication");
        }
        // A continuation of this request finds the change sent already: waiting is what is left.
        let sent = cx.is_done(CHANGE_SENT);
        if !changes.is_empty() && !sent {
            tracing::info!(user_name = name, changes = ?changes, "updating user");
            loop {
                match update.clone().send().await {
                    Ok(_) => {
                        cx.mark_done(CHANGE_SENT);
                        break;
                    }
                    // A rotation may be changing the same user right now: wait, then again.
                    Err(e) if is(&e, |e| e.is_invalid_user_state_fault()) => {
                        self.wait_active(name, cx).await?;
                    }
                    Err(e) => return Err(api("UpdateUser", e)),
                }
            }
        }
        if diff.changed(&["Tags"]) {
            sync_tags(&self.client, current.arn().unwrap_or_default(), &props.tags).await?;
        }
        let user = if changes.is_empty() {
            current
        } else {
            self.wait_active(name, cx).await?
        };
        Ok(user_outcome(&user))
    }

    async fn delete(&self, name: &str, _props: &Map<String, Value>, cx: &Cx) -> Result<(), Error> {
        let Some(user) = self.describe(name).await? else {
            tracing::info!(user_name = name, "user does not exist; nothing to delete");
            return Ok(());
        };
        if !owned_by(&self.client, user.arn().unwrap_or_default(), &cx.owner).await? {
            tracing::warn!(
                user_name = name,
                "user is not managed by this resource; leaving it alone"
            );
            return Ok(());
        }
        if user.status() != Some("deleting") {
            loop {
                match self.client.delete_user().user_name(name).send().await {
                    Ok(_) => break,
                    Err(e) if is(&e, |e| e.is_user_not_found_fault()) => return Ok(()),
                    Err(e) if is(&e, |e| e.is_invalid_user_state_fault()) => {
                        self.wait_active(name, cx).await?;
                    }
                    Err(e) => return Err(api("DeleteUser", e)),
                }
            }
        }
        self.wait_gone(name, cx).await
    }
}

// ---------------------------------------------------------------------------------------------
// ACLs

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct AclProps {
    #[serde(rename = "ACLName")]
    pub acl_name: String,
    #[serde(default, deserialize_with = "string_list")]
    pub user_names: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

pub struct MemoryDbAcl {
    client: Client,
}

impl MemoryDbAcl {
    async fn describe(&self, name: &str) -> Result<Option<Acl>, Error> {
        match self.client.describe_acls().acl_name(name).send().await {
            Ok(out) => Ok(out.acls().iter().find(|a| a.name() == Some(name)).cloned()),
            Err(e) if is(&e, |e| e.is_acl_not_found_fault()) => Ok(None),
            Err(e) => Err(api("DescribeACLs", e)),
        }
    }

    async fn adopt(&self, acl: &Acl, cx: &Cx) -> Result<(), Error> {
        let name = acl.name().unwrap_or_default();
        if !owned_by(&self.client, acl.arn().unwrap_or_default(), &cx.owner).await? {
            return Err(Error::NotOwned {
                kind: "ACL",
                id: name.to_owned(),
            });
        }
        tracing::info!(
            acl_name = name,
            "ACL exists already and belongs to this resource; not creating it again"
        );
        Ok(())
    }

    async fn wait_active(&self, name: &str, cx: &Cx) -> Result<Acl, Error> {
        wait::until(cx, &format!("ACL {name} to become active"), || async {
            match self.describe(name).await? {
                None => Err(Error::Missing {
                    kind: "ACL",
                    id: name.to_owned(),
                }),
                Some(a) if a.status() == Some("active") => Ok(Poll::Ready(a)),
                Some(a) => Ok(Poll::Pending(a.status().unwrap_or("unknown").to_owned())),
            }
        })
        .await
    }

    async fn wait_gone(&self, name: &str, cx: &Cx) -> Result<(), Error> {
        wait::until(cx, &format!("ACL {name} to be deleted"), || async {
            Ok(match self.describe(name).await? {
                None => Poll::Ready(()),
                Some(a) => Poll::Pending(a.status().unwrap_or("unknown").to_owned()),
            })
        })
        .await
    }
}

fn acl_outcome(acl: &Acl) -> Outcome {
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

/// (to add, to remove) turning `have` into `want`. MemoryDB lists the `default` user in
/// every ACL without being asked, so it is never removed unless the template names it.
pub(crate) fn acl_membership_diff(have: &[String], want: &[String]) -> (Vec<String>, Vec<String>) {
    let mut add: Vec<String> = Vec::new();
    for u in want {
        if !have.contains(u) && !add.contains(u) {
            add.push(u.clone());
        }
    }
    let remove = have
        .iter()
        .filter(|u| !want.contains(u) && u.as_str() != "default")
        .cloned()
        .collect();
    (add, remove)
}

#[async_trait]
impl Resource for MemoryDbAcl {
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
        if let Some(existing) = self.describe(name).await? {
            self.adopt(&existing, cx).await?;
        } else {
            let created = self
                .client
                .create_acl()
                .acl_name(name)
                // The API takes at least one name when the list is given at all.
                .set_user_names((!props.user_names.is_empty()).then(|| props.user_names.clone()))
                .set_tags(Some(tags_with_owner(&props.tags, &cx.owner)))
                .send()
                .await;
            match created {
                Ok(_) => cx.created(name),
                Err(e) if is(&e, |e| e.is_acl_already_exists_fault()) => {
                    let existing = self
                        .describe(name)
                        .await?
                        .ok_or_else(|| api("CreateACL", e))?;
                    self.adopt(&existing, cx).await?;
                }
                Err(e) => return Err(api("CreateACL", e)),
            }
        }
        Ok(acl_outcome(&self.wait_active(name, cx).await?))
    }

    async fn update(
        &self,
        name: &str,
        props: AclProps,
        diff: &Diff,
        cx: &Cx,
    ) -> Result<Outcome, Error> {
        let current = self.wait_active(name, cx).await?;
        // Against what the ACL holds now, not the old template: repairs drift, and stays
        // right during a rollback.
        let (add, remove) = acl_membership_diff(current.user_names(), &props.user_names);
        let changed = !add.is_empty() || !remove.is_empty();
        if changed {
            tracing::info!(acl_name = name, add = ?add, remove = ?remove, "updating ACL");
            self.client
                .update_acl()
                .acl_name(name)
                .set_user_names_to_add((!add.is_empty()).then_some(add))
                .set_user_names_to_remove((!remove.is_empty()).then_some(remove))
                .send()
                .await
                .map_err(|e| api("UpdateACL", e))?;
        }
        if diff.changed(&["Tags"]) {
            sync_tags(&self.client, current.arn().unwrap_or_default(), &props.tags).await?;
        }
        let acl = if changed {
            self.wait_active(name, cx).await?
        } else {
            current
        };
        Ok(acl_outcome(&acl))
    }

    async fn delete(&self, name: &str, _props: &Map<String, Value>, cx: &Cx) -> Result<(), Error> {
        let Some(acl) = self.describe(name).await? else {
            tracing::info!(acl_name = name, "ACL does not exist; nothing to delete");
            return Ok(());
        };
        if !owned_by(&self.client, acl.arn().unwrap_or_default(), &cx.owner).await? {
            tracing::warn!(
                acl_name = name,
                "ACL is not managed by this resource; leaving it alone"
            );
            return Ok(());
        }
        if !acl.clusters().is_empty() {
            return Err(Error::AclInUse {
                id: name.to_owned(),
                clusters: acl.clusters().join(", "),
            });
        }
        if acl.status() != Some("deleting") {
            if acl.status() != Some("active") {
                self.wait_active(name, cx).await?;
            }
            match self.client.delete_acl().acl_name(name).send().await {
                Ok(_) => {}
                Err(e) if is(&e, |e| e.is_acl_not_found_fault()) => return Ok(()),
                Err(e) if is(&e, |e| e.is_invalid_acl_state_fault()) => {
                    let clusters = self
                        .describe(name)
                        .await?
                        .map(|a| a.clusters().join(", "))
                        .filter(|c| !c.is_empty());
                    return Err(match clusters {
                        Some(clusters) => Error::AclInUse {
                            id: name.to_owned(),
                            clusters,
                        },
                        None => api("DeleteACL", e),
                    });
                }
                Err(e) => return Err(api("DeleteACL", e)),
            }
        }
        self.wait_gone(name, cx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::props;

    fn user(v: Value) -> Result<UserProps, PropsError> {
        let p: UserProps = props::parse(v.as_object().unwrap())?;
        MemoryDbUser::validate(&p)?;
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

    #[test]
    fn acl_diff_never_drops_the_implicit_default_user() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (add, remove) = acl_membership_diff(&s(&["default", "a", "b"]), &s(&["b", "c"]));
        assert_eq!(add, s(&["c"]));
        assert_eq!(remove, s(&["a"]));
    }

    #[test]
    fn acl_props_use_the_acl_spelling() {
        let p: AclProps = props::parse(
            json!({"ACLName": "app-acl", "UserNames": ["app"]})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        MemoryDbAcl::validate(&p).unwrap();
        let e = props::parse::<AclProps>(json!({"AclName": "x"}).as_object().unwrap()).unwrap_err();
        assert!(e.0.contains("unknown property `AclName`"), "{e}");
    }
}
