//! The broker, through Amazon MQ's API: whether it is a RabbitMQ broker, whether it runs, and
//! where its management API and AMQP listeners are. The only MQ call this service makes.

use crate::aws::Lazy;
use crate::services::common::amazon_mq;
use crate::services::error::Error;
use crate::wait::{self, Poll, Waiting};
use aws_sdk_mq::Client;
use aws_sdk_mq::operation::describe_broker::DescribeBrokerOutput;
use aws_sdk_mq::types::{BrokerState, EngineType};

/// The AMQP over TLS port Amazon MQ for RabbitMQ listens on.
pub(super) const AMQPS_PORT: u16 = 5671;

#[derive(Clone)]
pub(super) struct Brokers {
    pub(super) client: Lazy<Client>,
}

/// A running RabbitMQ broker.
#[derive(Debug)]
pub(super) struct Broker {
    pub id: String,
    /// Each instance's management endpoint (`ConsoleURL`): one for a single instance or a
    /// cluster (behind its load balancer), one per instance otherwise.
    pub consoles: Vec<String>,
    /// Each instance's AMQP endpoints, as host and port.
    pub amqp: Vec<(String, u16)>,
}

impl Brokers {
    /// The broker, `None` if it does not exist.
    pub(super) async fn describe(
        &self,
        broker_id: &str,
    ) -> Result<Option<DescribeBrokerOutput>, Error> {
        amazon_mq::describe_broker(&self.client, broker_id).await
    }

    /// The broker, once it runs; it must exist and run RabbitMQ. The management API does not
    /// answer while the broker reboots (a maintenance window, say), so this waits instead of
    /// failing on a connection refused.
    pub(super) async fn running(
        &self,
        broker_id: &str,
        cx: &impl Waiting,
    ) -> Result<Broker, Error> {
        let out = wait::until(cx, &format!("broker {broker_id} to be running"), || async {
            let broker = self
                .describe(broker_id)
                .await?
                .ok_or_else(|| Error::NoBroker(broker_id.to_owned()))?;
            if broker.engine_type() != Some(&EngineType::Rabbitmq) {
                return Err(Error::ActiveMq(broker_id.to_owned()));
            }
            Ok(match broker.broker_state() {
                Some(BrokerState::Running) => Poll::Ready(broker),
                state => Poll::Pending(state.map(|s| s.as_str().to_owned()).unwrap_or_default()),
            })
        })
        .await?;
        Ok(Broker {
            id: broker_id.to_owned(),
            consoles: out
                .broker_instances()
                .iter()
                .filter_map(|i| i.console_url())
                .map(|u| u.trim_end_matches('/').to_owned())
                .collect(),
            amqp: out
                .broker_instances()
                .iter()
                .flat_map(|i| i.endpoints())
                .filter_map(|e| amqps_endpoint(e))
                .collect(),
        })
    }
}

/// `amqps://host:port` as host and port; other schemes are not AMQP over TLS.
fn amqps_endpoint(endpoint: &str) -> Option<(String, u16)> {
    let url = url::Url::parse(endpoint).ok()?;
    if url.scheme() != "amqps" {
        return None;
    }
    let host = url.host_str()?.trim_matches(['[', ']']).to_owned();
    Some((host, url.port().unwrap_or(AMQPS_PORT)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amqps_endpoints_only() {
        assert_eq!(
            amqps_endpoint("amqps://b-1.mq.us-east-1.amazonaws.com:5671"),
            Some(("b-1.mq.us-east-1.amazonaws.com".into(), 5671))
        );
        assert_eq!(
            amqps_endpoint("amqps://127.0.0.1"),
            Some(("127.0.0.1".into(), AMQPS_PORT))
        );
        assert_eq!(amqps_endpoint("ssl://b-1.mq.amazonaws.com:61617"), None);
        assert_eq!(amqps_endpoint("not a url"), None);
    }
}
