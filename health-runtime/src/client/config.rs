//! The standard gRPC service config, as far as load balancing and health checking go
//! (<https://github.com/grpc/grpc/blob/master/doc/service_config.md>, gRFC A17's
//! `healthCheckConfig`).

use std::str::FromStr;

use serde::Deserialize;

/// A parsed service config: the load-balancing policy and `healthCheckConfig.serviceName`.
///
/// ```
/// use health_runtime::client::ServiceConfig;
///
/// let config: ServiceConfig = r#"{"loadBalancingConfig": [{"round_robin": {}}],
///     "healthCheckConfig": {"serviceName": ""}}"#.parse()?;
/// assert_eq!(config.health_check_service(), Some(""));
///
/// let error = r#"{"loadBalancingPolicy": "pick_first"}"#.parse::<ServiceConfig>().unwrap_err();
/// assert!(error.to_string().contains("pick_first"));
/// # Ok::<(), health_runtime::client::ServiceConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServiceConfig {
    health_check_service: Option<String>,
}

/// Why a service config was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceConfigError {
    /// Not JSON, or not of the service config's shape.
    #[error("the service config is not valid: {0}")]
    Malformed(#[from] serde_json::Error),
    /// A load-balancing policy this channel does not do.
    #[error(
        "the service config asks for load-balancing policy `{0}`; this channel balances \
         `round_robin` (the policy health checking applies to)"
    )]
    UnsupportedPolicy(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    load_balancing_policy: Option<String>,
    load_balancing_config: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    health_check_config: Option<RawHealthCheck>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawHealthCheck {
    service_name: Option<String>,
}

impl ServiceConfig {
    /// The health service name to watch on every endpoint; `None` when the config asks for no
    /// health checking (no `healthCheckConfig`).
    pub fn health_check_service(&self) -> Option<&str> {
        self.health_check_service.as_deref()
    }
}

impl FromStr for ServiceConfig {
    type Err = ServiceConfigError;

    fn from_str(json: &str) -> Result<Self, Self::Err> {
        let raw: Raw = serde_json::from_str(json)?;
        // `loadBalancingConfig` wins over the older `loadBalancingPolicy`; its first policy is
        // the one used.
        let policy = raw
            .load_balancing_config
            .as_ref()
            .and_then(|configs| configs.first())
            .and_then(|config| config.keys().next().cloned())
            .or(raw.load_balancing_policy);
        if let Some(policy) = policy
            && policy != "round_robin"
        {
            return Err(ServiceConfigError::UnsupportedPolicy(policy));
        }
        Ok(ServiceConfig {
            health_check_service: raw
                .health_check_config
                .map(|health| health.service_name.unwrap_or_default()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_and_health_check_names() {
        let config: ServiceConfig = r#"{"loadBalancingPolicy":"round_robin",
            "healthCheckConfig":{"serviceName":"kv.v1.KV"}}"#
            .parse()
            .unwrap();
        assert_eq!(config.health_check_service(), Some("kv.v1.KV"));
        let config: ServiceConfig = r#"{"healthCheckConfig":{}}"#.parse().unwrap();
        assert_eq!(config.health_check_service(), Some(""));
        let config: ServiceConfig = r#"{"methodConfig":[]}"#.parse().unwrap();
        assert_eq!(config.health_check_service(), None);
        for (json, wanted) in [
            ("{", "not valid"),
            (r#"{"healthCheckConfig":{"serviceName":3}}"#, "not valid"),
            (r#"{"healthCheckConfig":{"service":"x"}}"#, "unknown field"),
            (r#"{"loadBalancingPolicy":"grpclb"}"#, "`grpclb`"),
            (
                r#"{"loadBalancingConfig":[{"pick_first":{}}]}"#,
                "`pick_first`",
            ),
        ] {
            let error = json.parse::<ServiceConfig>().unwrap_err().to_string();
            assert!(error.contains(wanted), "{json}: {error}");
        }
    }
}
