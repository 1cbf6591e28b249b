//! Tags on resources addressed by ARN (ElastiCache users and groups, MemoryDB users and ACLs):
//! the ownership tags that keep userkeeper from touching what it did not create, and the
//! template's own tags. Each service adapts its SDK client to [`TagApi`]; everything else about
//! tags is here, once.
//!
//! AWS refuses tag calls on a resource that is not settled, with a not-found error whose
//! message says the resource "is not available for tagging" (ElastiCache users and groups:
//! terraform-provider-aws #34002 and #47638, seen even just after `DescribeUsers` said
//! `active`; MemoryDB is expected to do the same). Callers wait for `active` before a tag call,
//! and every tag call here retries that refusal, with jittered backoff, until the request's
//! deadline, which then names what it was waiting for.

use crate::cfn::Owner;
use crate::cfn::props::{PropsError, Tag};
use crate::error::ApiError;
use crate::wait::{self, Poll, Waiting};
use async_trait::async_trait;
use std::future::Future;

/// A service's three tag calls, in plain types.
#[async_trait]
pub trait TagApi: Send + Sync {
    async fn list(&self, arn: &str) -> Result<Vec<(String, String)>, ApiError>;
    async fn add(&self, arn: &str, tags: Vec<(String, String)>) -> Result<(), ApiError>;
    async fn remove(&self, arn: &str, keys: Vec<String>) -> Result<(), ApiError>;
}

/// The template's tags plus the ownership tags, for a create call.
pub(crate) fn with_owner(tags: &[Tag], owner: &Owner) -> Vec<(String, String)> {
    owner
        .tags()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(tags.iter().map(|t| (t.key.clone(), t.value.clone())))
        .collect()
}

/// Whether `e` is AWS's refusal of a tag call on a resource in transition (a not-found code
/// with this message), which goes away once the resource settles.
pub(crate) fn is_not_yet_taggable(e: &ApiError) -> bool {
    e.code.as_deref().is_some_and(|c| c.contains("NotFound"))
        && e.message.contains("not available for tagging")
}

/// Runs `call` until AWS stops refusing it as "not available for tagging".
async fn settled<T, F, Fut>(
    cx: &impl Waiting,
    arn: &str,
    op: &str,
    mut call: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let what = format!("{arn} to accept tag calls ({op})");
    wait::until(cx, &what, || {
        let attempt = call();
        async move {
            match attempt.await {
                Ok(v) => Ok(Poll::Ready(v)),
                Err(e) if is_not_yet_taggable(&e) => Ok(Poll::Pending(e.message)),
                Err(e) => Err(e),
            }
        }
    })
    .await
}

async fn list(
    api: &impl TagApi,
    arn: &str,
    cx: &impl Waiting,
) -> Result<Vec<(String, String)>, ApiError> {
    settled(cx, arn, "list", || api.list(arn)).await
}

/// Whose a resource is, by its ownership tags.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// `owner`'s: this stack's and this logical id's.
    Ours,
    /// Another stack's or logical id's, in words for a message.
    Theirs(String),
    /// No userkeeper ownership tags at all: made outside userkeeper.
    Nobodys,
}

impl Ownership {
    /// Whose it is, in words for a message (`None` when it is ours).
    pub(crate) fn found(&self) -> Option<String> {
        match self {
            Ownership::Ours => None,
            Ownership::Theirs(who) => Some(who.clone()),
            Ownership::Nobodys => {
                Some("it has no userkeeper ownership tags: userkeeper did not create it".into())
            }
        }
    }
}

/// Whose the resource `arn` is.
pub(crate) async fn ownership(
    api: &impl TagApi,
    arn: &str,
    owner: &Owner,
    cx: &impl Waiting,
) -> Result<Ownership, ApiError> {
    let tags = list(api, arn, cx).await?;
    if owner.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        return Ok(Ownership::Ours);
    }
    let get = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    Ok(match (get(Owner::STACK_TAG), get(Owner::LOGICAL_TAG)) {
        (None, None) => Ownership::Nobodys,
        (stack, logical) => Ownership::Theirs(format!(
            "its tags name stack {}, logical id {}",
            stack.unwrap_or("(none)"),
            logical.unwrap_or("(none)")
        )),
    })
}

/// Records `owner` on the resource `arn`: an explicit adoption.
pub(crate) async fn take_ownership(
    api: &impl TagApi,
    arn: &str,
    owner: &Owner,
    cx: &impl Waiting,
) -> Result<(), ApiError> {
    let tags: Vec<_> = owner
        .tags()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    settled(cx, arn, "add", || api.add(arn, tags.clone())).await
}

/// Makes userkeeper's own tag `key` on `arn` say `value` (`None`: not there).
pub(crate) async fn set_reserved(
    api: &impl TagApi,
    arn: &str,
    key: &str,
    value: Option<&str>,
    cx: &impl Waiting,
) -> Result<(), ApiError> {
    let have = list(api, arn, cx).await?;
    let now = have.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    if now == value {
        return Ok(());
    }
    match value {
        Some(v) => {
            let add = vec![(key.to_owned(), v.to_owned())];
            settled(cx, arn, "add", || api.add(arn, add.clone())).await
        }
        None => settled(cx, arn, "remove", || api.remove(arn, vec![key.to_owned()])).await,
    }
}

/// The value of tag `key` on `arn`, if it has one.
pub(crate) async fn get(
    api: &impl TagApi,
    arn: &str,
    key: &str,
    cx: &impl Waiting,
) -> Result<Option<String>, ApiError> {
    let have = list(api, arn, cx).await?;
    Ok(have.into_iter().find(|(k, _)| k == key).map(|(_, v)| v))
}

/// Makes the template's tags on `arn` match `want`, leaving the ownership tags alone.
pub(crate) async fn sync(
    api: &impl TagApi,
    arn: &str,
    want: &[Tag],
    cx: &impl Waiting,
) -> Result<(), ApiError> {
    let (set, remove) = tag_changes(&list(api, arn, cx).await?, want);
    if !remove.is_empty() {
        settled(cx, arn, "remove", || api.remove(arn, remove.clone())).await?;
    }
    if !set.is_empty() {
        let add: Vec<_> = set.into_iter().map(|t| (t.key, t.value)).collect();
        settled(cx, arn, "add", || api.add(arn, add.clone())).await?;
    }
    Ok(())
}

pub(crate) fn check_tags(tags: &[Tag]) -> Result<(), PropsError> {
    match tags.iter().find(|t| Owner::is_reserved_key(&t.key)) {
        Some(t) => Err(PropsError::field(
            "Tags",
            format!(
                "tag key {:?} is reserved for userkeeper's ownership tags",
                t.key
            ),
        )),
        None => Ok(()),
    }
}

/// The tag changes that make a resource's template tags `want` from `have` (key, value pairs
/// read from it), leaving the ownership tags alone: (to set, keys to remove).
pub(crate) fn tag_changes(have: &[(String, String)], want: &[Tag]) -> (Vec<Tag>, Vec<String>) {
    let have: Vec<&(String, String)> = have
        .iter()
        .filter(|(k, _)| !Owner::is_reserved_key(k))
        .collect();
    let remove = have
        .iter()
        .filter(|(k, _)| !want.iter().any(|t| &t.key == k))
        .map(|(k, _)| k.clone())
        .collect();
    let set = want
        .iter()
        .filter(|t| !have.iter().any(|(k, v)| k == &t.key && v == &t.value))
        .cloned()
        .collect();
    (set, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tagging_refusal_is_transient() {
        let e = |code: &str, message: &str| ApiError {
            service: "ElastiCache",
            op: "ListTagsForResource",
            code: Some(code.into()),
            message: format!("{code}: {message}"),
        };
        assert!(is_not_yet_taggable(&e(
            "UserNotFound",
            "app-user is not available for tagging"
        )));
        assert!(is_not_yet_taggable(&e(
            "ACLNotFoundFault",
            "app-acl is not available for tagging"
        )));
        assert!(!is_not_yet_taggable(&e(
            "UserNotFound",
            "User app-user not found"
        )));
        assert!(!is_not_yet_taggable(&e(
            "AccessDenied",
            "not available for tagging"
        )));
    }

    #[test]
    fn ownership_tags_are_reserved() {
        let tags = vec![Tag {
            key: "userkeeper:stack-id".into(),
            value: "x".into(),
        }];
        assert!(
            check_tags(&tags)
                .unwrap_err()
                .to_string()
                .contains("reserved")
        );
    }

    #[test]
    fn tag_changes_set_new_and_changed_remove_gone_and_keep_ownership() {
        let have = vec![
            ("userkeeper:stack-id".to_owned(), "s".to_owned()),
            ("team".to_owned(), "old".to_owned()),
            ("gone".to_owned(), "x".to_owned()),
            ("same".to_owned(), "v".to_owned()),
        ];
        let tag = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        let (set, remove) = tag_changes(
            &have,
            &[tag("team", "new"), tag("same", "v"), tag("added", "a")],
        );
        assert_eq!(set, vec![tag("team", "new"), tag("added", "a")]);
        assert_eq!(remove, vec!["gone".to_owned()]);
    }
}
