//! Operand images, read from the `RELATED_IMAGE_*` environment (the OLM "relatedImages"
//! convention) so that a disconnected install can rewrite them in one place: the manager
//! Deployment.

use crate::error::{Error, Result};

/// Environment variable of the eBPF agent image.
pub const ENV_AGENT: &str = "RELATED_IMAGE_EBPF_AGENT";
/// Environment variable of the flowlogs-pipeline image.
pub const ENV_FLP: &str = "RELATED_IMAGE_FLOWLOGS_PIPELINE";
/// Environment variable of the console plugin image.
pub const ENV_PLUGIN: &str = "RELATED_IMAGE_CONSOLE_PLUGIN";
/// Environment variable of the demo Loki image.
pub const ENV_DEMO_LOKI: &str = "RELATED_IMAGE_DEMO_LOKI";

/// The images of every workload the operator deploys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    /// eBPF agent DaemonSet image.
    pub agent: String,
    /// flowlogs-pipeline (processor) image.
    pub flowlogs_pipeline: String,
    /// Console plugin image.
    pub console_plugin: String,
    /// Demo Loki image (`loki.monolithic.installDemoLoki`).
    pub demo_loki: String,
}

impl Images {
    /// Reads the images through `lookup` (normally `std::env::var`), failing on the first missing
    /// one: running with a guessed image would deploy something nobody asked for.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |key: &'static str| {
            lookup(key)
                .filter(|v| !v.trim().is_empty())
                .ok_or(Error::MissingImage(key))
        };
        Ok(Self {
            agent: get(ENV_AGENT)?,
            flowlogs_pipeline: get(ENV_FLP)?,
            console_plugin: get(ENV_PLUGIN)?,
            demo_loki: lookup(ENV_DEMO_LOKI)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "grafana/loki:3.5.0".to_string()),
        })
    }

    /// Reads the images from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Fixed images for tests and golden files, so that they do not depend on the environment.
    pub fn for_tests() -> Self {
        Self {
            agent: "quay.io/netobserv-rs/ebpf-agent:v0.1.0".to_string(),
            flowlogs_pipeline: "quay.io/netobserv-rs/flowlogs-pipeline:v0.1.0".to_string(),
            console_plugin: "quay.io/netobserv-rs/console-plugin:v0.1.0".to_string(),
            demo_loki: "grafana/loki:3.5.0".to_string(),
        }
    }
}

/// The `version` label value of an image: its tag (text after the last `:` of the last path
/// segment), or `latest`, cut to the 63-character label limit and stripped of characters labels
/// do not allow.
pub fn version_label(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    let without_digest = last.split('@').next().unwrap_or(last);
    let tag = without_digest
        .split_once(':')
        .map_or("latest", |(_, tag)| tag);
    let cleaned: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(63)
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "latest".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn missing_required_image_is_an_error() {
        let env: HashMap<&str, &str> = HashMap::from([(ENV_AGENT, "a:1"), (ENV_FLP, "f:1")]);
        let err = Images::from_lookup(|k| env.get(k).map(|v| (*v).to_string())).unwrap_err();
        assert!(matches!(err, Error::MissingImage(ENV_PLUGIN)), "{err}");
    }

    #[test]
    fn version_label_is_the_tag() {
        assert_eq!(version_label("quay.io/x/agent:v1.2.3"), "v1.2.3");
        assert_eq!(version_label("localhost:5000/x/agent"), "latest");
        assert_eq!(version_label("x/agent:v1@sha256:abc"), "v1");
    }
}
