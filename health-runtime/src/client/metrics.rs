//! The endpoints' health as Prometheus gauges.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use super::HealthAwareChannel;

/// The health of a [`HealthAwareChannel`]'s endpoints as a `prometheus-client` [`Collector`]:
///
/// | family | type | labels |
/// |---|---|---|
/// | `health_client_endpoint_in_rotation` | gauge: 1 when calls go to the endpoint, 0 otherwise | `endpoint` (its URI), `state` (`connecting`, `serving`, `not_serving`, `unimplemented`, `retrying`, `not_checked`) |
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use health_runtime::client::{EndpointCollector, HealthAwareChannel};
///
/// let channel = HealthAwareChannel::builder().build([]);
/// let mut registry = prometheus_client::registry::Registry::default();
/// registry.register_collector(Box::new(EndpointCollector::new(&channel)));
/// # }
/// ```
#[derive(Debug)]
pub struct EndpointCollector {
    /// Weak: a registry does not keep the channel alive once its users dropped it (its
    /// family is empty then).
    channel: super::balance::WeakChannel,
}

impl EndpointCollector {
    /// The collector of `channel`'s endpoints.
    pub fn new(channel: &HealthAwareChannel) -> Self {
        EndpointCollector {
            channel: channel.downgrade(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
    state: &'static str,
}

impl Collector for EndpointCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "health_client_endpoint_in_rotation",
            "Whether calls go to the endpoint (1) or not (0), by its health",
            None,
            MetricType::Gauge,
        )?;
        let endpoints = self
            .channel
            .upgrade()
            .map(|channel| channel.endpoints())
            .unwrap_or_default();
        for (endpoint, health) in endpoints {
            let labels = EndpointLabels {
                endpoint,
                state: health.name(),
            };
            ConstGauge::new(i64::from(health.in_rotation()))
                .encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
