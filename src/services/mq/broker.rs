//! The broker calls the user resource and the rotator share: the broker and its state, a
//! user's pending change, broker tags (where userkeeper records what MQ users cannot carry),
//! and the waits around a reboot.

use super::api;
use super::record::BrokerTags;
use crate::aws::Lazy;
use crate::error::is;
use crate::services::common::amazon_mq;
use crate::services::error::Error;
use crate::wait::{self, Poll, Waiting};
use aws_sdk_mq::Client;
use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;
use aws_sdk_mq::types::{BrokerState, ChangeType, EngineType};

/// Amazon MQ's brokers, through one client.
#[derive(Clone)]
pub(super) struct Brokers {
    pub(super) client: Lazy<Client>,
}

impl Brokers {
    /// The broker, `None` if it does not exist.
    pub(super) async fn describe(
        &self,
        broker_id: &str,
    ) -> Result<Option<DescribeBrokerOutput>, Error> {
        amazon_mq::describe_broker(&self.client, broker_id).await
    }

    /// The broker, which must exist and run ActiveMQ.
    pub(super) async fn activemq(&self, broker_id: &str) -> Result<DescribeBrokerOutput, Error> {
        let broker = self
            .describe(broker_id)
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
            Err(e) => Err(api("DescribeUser", e).into()),
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
                .describe(broker_id)
                .await?
                .ok_or_else(|| Error::NoBroker(broker_id.to_owned()))?;
            Ok(match broker.broker_state() {
                Some(BrokerState::Running) => Poll::Ready(broker),
                state => Poll::Pending(state.map(|s| s.as_str().to_owned()).unwrap_or_default()),
            })
        })
        .await
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
                    .describe(broker_id)
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

    pub(super) async fn reboot(&self, broker_id: &str) -> Result<(), Error> {
        self.client
            .reboot_broker()
            .broker_id(broker_id)
            .send()
            .await
            .map_err(|e| api("RebootBroker", e))?;
        Ok(())
    }

    /// The broker's tags.
    pub(super) async fn tags(&self, broker_arn: &str) -> Result<BrokerTags, Error> {
        let tags = self
            .client
            .list_tags()
            .resource_arn(broker_arn)
            .send()
            .await
            .map_err(|e| api("ListTags", e))?;
        Ok(BrokerTags(tags.tags().cloned().unwrap_or_default()))
    }

    pub(super) async fn set_tag(
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

    /// Removes the tags `keys` (none: no call).
    pub(super) async fn delete_tags(
        &self,
        broker_arn: &str,
        keys: Vec<String>,
    ) -> Result<(), Error> {
        if keys.is_empty() {
            return Ok(());
        }
        self.client
            .delete_tags()
            .resource_arn(broker_arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map_err(|e| api("DeleteTags", e))?;
        Ok(())
    }
}
