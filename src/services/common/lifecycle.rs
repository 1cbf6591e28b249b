//! The life of a resource that has an id, an ARN, a status and ownership tags (ElastiCache
//! users and user groups, MemoryDB users and ACLs): look before creating, wait until it
//! settles, send a change when it is not busy, delete only what this stack owns. Each resource
//! describes itself through [`Kind`]; what it creates and changes stays in its own file.

use super::binding;
use super::tags::{self, Ownership, TagApi};
use crate::cfn::Cx;
use crate::cfn::props::Tag;
use crate::cfn::resource::CHANGE_SENT;
use crate::error::{ApiError, is};
use crate::services::error::Error;
use crate::wait::{self, Poll, Waiting};
use async_trait::async_trait;
use aws_smithy_runtime_api::client::result::SdkError;
use std::future::Future;

/// How a resource type is looked up and what the shared steps need to know of it.
#[async_trait]
pub trait Kind: Send + Sync {
    /// What the service returns for one resource.
    type Item: Send + Sync;
    type Tags: TagApi;
    /// For messages: "user", "user group", "ACL".
    const NOUN: &'static str;
    /// What the template calls the id, for "pick another ...": "id" or "name".
    const ID_WORD: &'static str;

    async fn describe(&self, id: &str) -> Result<Option<Self::Item>, Error>;
    fn status(item: &Self::Item) -> &str;
    fn arn(item: &Self::Item) -> &str;
    fn tag_api(&self) -> &Self::Tags;
    /// Why the resource cannot be deleted now (something still uses it), if anything.
    fn in_use(_item: &Self::Item, _id: &str) -> Option<Error> {
        None
    }
}

const ACTIVE: &str = "active";
const DELETING: &str = "deleting";

/// One try of a call that the service refuses while the resource is busy with another change.
pub enum Attempt<T> {
    Done(T),
    /// Refused because the resource is not settled: wait for it, then try again.
    Busy,
    /// The resource is gone (a Delete that found nothing to delete).
    Gone,
}

/// What a create call did.
pub enum Creation {
    Created,
    /// Someone created it between our look and our call; the error is the one to report if
    /// it cannot be found after all.
    Exists(Error),
}

/// A create call's result as a [`Creation`]: `exists` recognises the service's "already
/// exists" error, `api` words any error.
pub(crate) fn creation<O, E, R>(
    result: Result<O, SdkError<E, R>>,
    exists: impl Fn(&E) -> bool,
    api: impl Fn(SdkError<E, R>) -> ApiError,
) -> Result<Creation, Error> {
    match result {
        Ok(_) => Ok(Creation::Created),
        Err(e) if is(&e, exists) => Ok(Creation::Exists(api(e).into())),
        Err(e) => Err(api(e).into()),
    }
}

/// A call's result as an [`Attempt`]: `busy` recognises the service's "not in a state for
/// this" error, `gone` its "not found".
pub(crate) fn attempt<O, E, R>(
    result: Result<O, SdkError<E, R>>,
    busy: impl Fn(&E) -> bool,
    gone: impl Fn(&E) -> bool,
    api: impl Fn(SdkError<E, R>) -> ApiError,
) -> Result<Attempt<()>, Error> {
    match result {
        Ok(_) => Ok(Attempt::Done(())),
        Err(e) if is(&e, &busy) => Ok(Attempt::Busy),
        Err(e) if is(&e, &gone) => Ok(Attempt::Gone),
        Err(e) => Err(api(e).into()),
    }
}

/// Waits until the resource is `active` and returns it.
pub(crate) async fn wait_active<K: Kind>(
    kind: &K,
    id: &str,
    cx: &impl Waiting,
) -> Result<K::Item, Error> {
    let what = format!("{} {id} to become active", K::NOUN);
    wait::until(cx, &what, || async {
        match kind.describe(id).await? {
            None => Err(Error::Missing {
                kind: K::NOUN,
                id: id.to_owned(),
            }),
            Some(item) if K::status(&item) == ACTIVE => Ok(Poll::Ready(item)),
            Some(item) => Ok(Poll::Pending(K::status(&item).to_owned())),
        }
    })
    .await
}

/// Waits until the resource is gone.
pub(crate) async fn wait_gone<K: Kind>(kind: &K, id: &str, cx: &impl Waiting) -> Result<(), Error> {
    let what = format!("{} {id} to be deleted", K::NOUN);
    wait::until(cx, &what, || async {
        Ok(match kind.describe(id).await? {
            None => Poll::Ready(()),
            Some(item) => Poll::Pending(K::status(&item).to_owned()),
        })
    })
    .await
}

/// Whether this request's stack and logical id own `item`.
pub(crate) async fn owned<K: Kind>(kind: &K, item: &K::Item, cx: &Cx) -> Result<bool, Error> {
    let whose = tags::ownership(kind.tag_api(), K::arn(item), &cx.owner, cx).await?;
    Ok(whose == Ownership::Ours)
}

/// Accepts an existing resource only if this resource made it (a redelivered Create, or a
/// rollback recreating what it still has); anyone else's is refused without a write, except
/// one made outside userkeeper when the template asks to adopt it (`Ok(true)`: taken now).
async fn adopt<K: Kind>(
    kind: &K,
    item: &K::Item,
    id: &str,
    may_adopt: bool,
    cx: &Cx,
) -> Result<bool, Error> {
    // Tag reads (the ownership check) are refused until it settles.
    let settled;
    let item = if K::status(item) == ACTIVE {
        item
    } else {
        settled = wait_active(kind, id, cx).await?;
        &settled
    };
    match tags::ownership(kind.tag_api(), K::arn(item), &cx.owner, cx).await? {
        Ownership::Ours => {
            tracing::info!(
                id,
                "{} exists already and belongs to this resource; not creating it again",
                K::NOUN
            );
            Ok(false)
        }
        Ownership::Nobodys if may_adopt => {
            tags::take_ownership(kind.tag_api(), K::arn(item), &cx.owner, cx).await?;
            tracing::warn!(
                id,
                "adopted a {} made outside userkeeper (Adopt): this resource now manages it, \
                 and its Delete deletes it",
                K::NOUN
            );
            Ok(true)
        }
        _ => Err(Error::NotOwned {
            kind: K::NOUN,
            id: id.to_owned(),
            id_word: K::ID_WORD,
        }),
    }
}

/// What a Create found and did.
pub(crate) struct Made<T> {
    pub item: T,
    /// Adopted now (`Adopt`): the caller brings it to the template.
    pub adopted: bool,
}

/// Looks before creating, creates with `create` if nothing is there (or adopts what is there,
/// when `may_adopt` and userkeeper did not make it), and waits until the resource is active.
pub(crate) async fn create_once<K, F, Fut>(
    kind: &K,
    id: &str,
    may_adopt: bool,
    cx: &Cx,
    create: F,
) -> Result<Made<K::Item>, Error>
where
    K: Kind,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Creation, Error>>,
{
    let adopted = if let Some(existing) = kind.describe(id).await? {
        adopt(kind, &existing, id, may_adopt, cx).await?
    } else {
        match create().await? {
            Creation::Created => {
                cx.created(id);
                false
            }
            Creation::Exists(e) => {
                let existing = kind.describe(id).await?.ok_or(e)?;
                adopt(kind, &existing, id, may_adopt, cx).await?
            }
        }
    };
    let item = wait_active(kind, id, cx).await?;
    Ok(Made { item, adopted })
}

/// Runs `call` until the resource is not busy: each refusal waits for it to be active, then
/// tries again (a rotation may be changing the same user right now).
pub(crate) async fn when_active<K, T, F, Fut>(
    kind: &K,
    id: &str,
    cx: &impl Waiting,
    mut call: F,
) -> Result<Option<T>, Error>
where
    K: Kind,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, Error>>,
{
    loop {
        match call().await? {
            Attempt::Done(v) => return Ok(Some(v)),
            Attempt::Gone => return Ok(None),
            Attempt::Busy => {
                tracing::info!(id, "{} is busy; waiting before trying again", K::NOUN);
                wait_active(kind, id, cx).await?;
            }
        }
    }
}

/// What an Update asks of [`update`] besides the change itself.
#[derive(Default)]
pub(crate) struct After<'a> {
    /// The template's tags, when they changed.
    pub tags: Option<&'a [Tag]>,
    /// The secret the user is now bound to (`Some(None)`: none), when authentication changed.
    pub bind: Option<Option<&'a str>>,
}

/// The resource an Update is for, once it is active, and only if this stack and logical id
/// own it: the event may come from another stack sharing the function. Checked before
/// anything else is compared or changed, so that the refusal names the owner.
pub(crate) async fn current_owned<K: Kind>(kind: &K, id: &str, cx: &Cx) -> Result<K::Item, Error> {
    let current = wait_active(kind, id, cx).await?;
    let whose = tags::ownership(kind.tag_api(), K::arn(&current), &cx.owner, cx).await?;
    match whose.found() {
        None => Ok(current),
        Some(found) => Err(Error::UpdateNotOwned {
            kind: K::NOUN,
            id: id.to_owned(),
            id_word: K::ID_WORD,
            found,
        }),
    }
}

/// The rest of an Update once the resource is `current` ([`current_owned`]): sends `change`, if any, at
/// most once per request (a continuation finds it sent and only waits), waits until the
/// resource has settled, then writes its tags (`after`). Tags come last because the services
/// refuse tag calls on a resource in transition.
pub(crate) async fn update<K, F, Fut>(
    kind: &K,
    id: &str,
    cx: &Cx,
    current: K::Item,
    change: Option<F>,
    after: After<'_>,
) -> Result<K::Item, Error>
where
    K: Kind,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<()>, Error>>,
{
    let mut item = current;
    if let Some(change) = change {
        if !cx.is_done(CHANGE_SENT) {
            when_active(kind, id, cx, change).await?;
            cx.mark_done(CHANGE_SENT);
        }
        item = wait_active(kind, id, cx).await?;
    }
    if let Some(want) = after.tags {
        tags::sync(kind.tag_api(), K::arn(&item), want, cx).await?;
    }
    if let Some(secret) = after.bind {
        tags::set_reserved(kind.tag_api(), K::arn(&item), binding::USER_TAG, secret, cx).await?;
    }
    Ok(item)
}

/// Deletes the resource if this stack owns it (someone else's is left alone, and absent is
/// success), waiting for a change in progress to settle first, then until it is gone.
pub(crate) async fn delete_owned<K, F, Fut>(
    kind: &K,
    id: &str,
    cx: &Cx,
    delete: F,
) -> Result<(), Error>
where
    K: Kind,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<()>, Error>>,
{
    let Some(item) = kind.describe(id).await? else {
        tracing::info!(id, "{} does not exist; nothing to delete", K::NOUN);
        return Ok(());
    };
    if K::status(&item) == DELETING {
        // Going away whoever asked (a redelivery of this Delete, most likely): nothing to
        // write, so no ownership to check, and AWS refuses tag reads on it anyway.
        return wait_gone(kind, id, cx).await;
    }
    if K::status(&item) != ACTIVE {
        // AWS refuses tag reads (the ownership check) and deletes until it settles.
        wait_active(kind, id, cx).await?;
    }
    if !owned(kind, &item, cx).await? {
        tracing::warn!(
            id,
            "{} is not managed by this resource; leaving it alone",
            K::NOUN
        );
        return Ok(());
    }
    if let Some(e) = K::in_use(&item, id) {
        return Err(e);
    }
    if when_active(kind, id, cx, delete).await?.is_none() {
        return Ok(());
    }
    wait_gone(kind, id, cx).await
}
