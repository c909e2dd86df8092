//! What a capture deploys, as pure functions of a [`Plan`]: the namespace, the ServiceAccount and
//! its read-only RBAC (for the collector's Kubernetes enrichment), the agent DaemonSet (flows or
//! packets, with the filter rules), the collector Pod and its Service. The same objects are
//! printed by `--yaml` and applied by `flows` / `packets`. Pieces shared with the operator
//! (metadata, tolerations, capabilities, the agent's filter-rule JSON) come from its render code.
//!
//! Every object carries [`MANAGED_BY_LABEL`] and [`RUN_LABEL`], so `cleanup` (or a later run)
//! finds leftovers of a crashed run by label, cluster-scoped ones included.

mod agent;
mod collector;
pub mod monitoring;

pub use monitoring::Monitoring;

pub use agent::AGENT_LABEL;

use crate::options::{AgentArgs, Command, Features, FilterArgs};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use netobserv_operator::render::{meta, sa_subject};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Label on everything the CLI deploys.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub const MANAGED_BY: &str = "netobserv-cli";
/// Label naming the run that deployed an object.
pub const RUN_LABEL: &str = "netobserv.io/cli-run";
/// Name of the agent DaemonSet, ServiceAccount and Lease (upstream's names).
pub const NAME: &str = "netobserv-cli";
/// Name of the collector Pod and Service.
pub const COLLECTOR: &str = "collector";
/// Port the collector listens on.
pub const COLLECTOR_PORT: u16 = 9999;
/// Where the collector writes in its pod.
pub const COLLECTOR_OUTPUT: &str = "/output";

/// What a capture is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capture {
    /// Flows, with the agent features asked for.
    Flows(Features),
    /// Packets, copying `snaplen` bytes of each.
    Packets {
        /// Bytes copied per packet.
        snaplen: u32,
    },
    /// On-demand metrics: the agents run the pipeline in process and serve `include`.
    Metrics {
        /// Agent features asked for.
        features: Features,
        /// The metrics served (names without the prefix).
        include: Vec<netobserv_api::v1beta2::FlpMetric>,
    },
}

/// Everything the objects are rendered from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Flows or packets.
    pub capture: Capture,
    /// Agent placement and settings (namespace included).
    pub agent: AgentArgs,
    /// Filter rules (empty: none).
    pub rules: Vec<FilterArgs>,
    /// Collector stop conditions and query.
    pub max_time: Duration,
    /// Bytes after which the collector stops.
    pub max_bytes: u64,
    /// Flow query of the collector's pipeline.
    pub query: Option<String>,
    /// Agent image.
    pub agent_image: String,
    /// Collector (this CLI's) image.
    pub collector_image: String,
    /// Identifies this run in [`RUN_LABEL`].
    pub run_id: String,
    /// Whether a foreground run copies the collector's files home before removing it.
    pub copy: CopyHome,
    /// Subnet labels given to the collector (flows) or the agents' pipeline (metrics):
    /// `--get-subnets`, filled from the cluster before rendering.
    pub subnet_labels: Vec<crate::subnets::SubnetLabel>,
    /// What the cluster offers `metrics` (ServiceMonitor, console dashboards), detected
    /// before deploying.
    pub monitoring: Monitoring,
    /// The collector also prints each record to its log (`--live`), for the table of a
    /// foreground run on a terminal.
    pub live: bool,
}

/// `--copy`: what a foreground run does with the collector's files at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyHome {
    /// Copy them into ./output.
    Yes,
    /// Leave them (they go with the collector pod).
    No,
    /// Ask on the terminal (no terminal: no copy).
    Ask,
}

impl CopyHome {
    /// From the option's value (`true`, `false`, `prompt`; clap allows no other).
    pub fn from_option(value: &str) -> Self {
        match value {
            "true" => Self::Yes,
            "false" => Self::No,
            _ => Self::Ask,
        }
    }
}

/// `images/images.env`, the one place the project's image names and tags are set (also read by
/// the Makefile, the image build and the operator's bundle), so the CLI deploys the images
/// `make images` builds.
const IMAGES_ENV: &str = include_str!("../../../../images/images.env");

/// The value of `key` in [`IMAGES_ENV`] (`KEY=value` lines, `#` comments).
fn images_env(key: &str) -> &'static str {
    IMAGES_ENV
        .lines()
        .filter_map(|line| line.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .unwrap_or_default()
}

/// The reference of the image named by `name_key` in `images/images.env`.
fn image_from_env(name_key: &str) -> String {
    format!(
        "{}/{}:{}",
        images_env("IMAGE_REGISTRY"),
        images_env(name_key),
        images_env("IMAGE_TAG")
    )
}

/// Default (agent, collector) images from `images/images.env`, overridden by
/// `NETOBSERV_AGENT_IMAGE` and `NETOBSERV_COLLECTOR_IMAGE`.
pub fn default_images(lookup: impl Fn(&str) -> Option<String>) -> (String, String) {
    (
        lookup("NETOBSERV_AGENT_IMAGE").unwrap_or_else(|| image_from_env("IMAGE_EBPF_AGENT")),
        lookup("NETOBSERV_COLLECTOR_IMAGE")
            .unwrap_or_else(|| image_from_env("IMAGE_CLI_COLLECTOR")),
    )
}

/// A command that deploys nothing this CLI can run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// An `--include_list` entry that is no metric.
    #[error("--include_list: {0}")]
    UnknownMetric(String),
    /// Not a capture command.
    #[error("`{0}` deploys nothing")]
    NotACapture(String),
    /// A feature that reads the node's Open vSwitch / OVN sockets without `--privileged`.
    #[error("{0} needs --privileged: the agent reads the node's Open vSwitch database")]
    NeedsPrivileged(&'static str),
}

/// Refuses the features that need host sockets on an unprivileged agent, naming the option.
fn check_privileged(features: &Features, agent: &AgentArgs) -> Result<(), PlanError> {
    if agent.privileged {
        return Ok(());
    }
    if features.udn_mapping {
        return Err(PlanError::NeedsPrivileged("--enable_udn_mapping"));
    }
    if features.network_events {
        return Err(PlanError::NeedsPrivileged("--enable_network_events"));
    }
    Ok(())
}

impl Plan {
    /// The plan of a capture command with its filter `rules`; `images` are (agent, collector).
    pub fn for_command(
        command: &Command,
        rules: &[FilterArgs],
        run_id: &str,
        images: (String, String),
    ) -> Result<Self, PlanError> {
        let (capture, agent, run) = match command {
            Command::Flows(f) => (Capture::Flows(f.features.clone()), &f.agent, &f.run),
            Command::Packets(p) => (Capture::Packets { snaplen: p.snaplen }, &p.agent, &p.run),
            Command::Metrics(m) => {
                let include = m
                    .include_list
                    .iter()
                    .map(|n| crate::metrics::flp::metric(n.trim()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(PlanError::UnknownMetric)?;
                check_privileged(&m.features, &m.agent)?;
                return Ok(Self {
                    capture: Capture::Metrics {
                        features: m.features.clone(),
                        include,
                    },
                    agent: m.agent.clone(),
                    rules: rules.to_vec(),
                    max_time: m.max_time,
                    max_bytes: 0,
                    query: None,
                    agent_image: images.0,
                    collector_image: images.1,
                    run_id: run_id.to_string(),
                    copy: CopyHome::No,
                    subnet_labels: Vec::new(),
                    monitoring: Monitoring::default(),
                    live: false,
                });
            }
            other => return Err(PlanError::NotACapture(format!("{other:?}"))),
        };
        if let Capture::Flows(f) = &capture {
            check_privileged(f, agent)?;
        }
        Ok(Self {
            capture,
            agent: agent.clone(),
            rules: rules.to_vec(),
            max_time: run.max_time,
            max_bytes: run.max_bytes,
            query: run.query.clone(),
            agent_image: images.0,
            collector_image: images.1,
            run_id: run_id.to_string(),
            copy: CopyHome::from_option(&run.copy),
            subnet_labels: Vec::new(),
            monitoring: Monitoring::default(),
            live: false,
        })
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.agent.namespace
    }

    /// Labels every object gets.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
            (RUN_LABEL.to_string(), self.run_id.clone()),
        ])
    }

    /// Name of the cluster-scoped objects (ClusterRole and its binding): the namespace, so that
    /// two captures in two namespaces do not share them.
    pub fn cluster_name(&self) -> String {
        self.namespace().to_string()
    }
}

/// The objects of a capture, in apply order (namespace first).
pub fn render(plan: &Plan) -> Vec<Value> {
    let ns = plan.namespace();
    let labels = plan.labels();
    let mut ns_labels = labels.clone();
    // The agents run on the host network with eBPF capabilities.
    for mode in ["enforce", "audit", "warn"] {
        ns_labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            "privileged".into(),
        );
    }
    if plan.monitoring.service_monitor {
        // OpenShift's platform Prometheus scrapes ServiceMonitors of namespaces marked so.
        ns_labels.insert("openshift.io/cluster-monitoring".into(), "true".into());
    }
    let mut out = vec![
        to_value(&Namespace {
            metadata: meta(ns, None, ns_labels),
            ..Namespace::default()
        }),
        to_value(&ServiceAccount {
            metadata: meta(NAME, Some(ns), labels.clone()),
            ..ServiceAccount::default()
        }),
        to_value(&cluster_role(plan)),
        to_value(&ClusterRoleBinding {
            metadata: meta(&plan.cluster_name(), None, labels),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: plan.cluster_name(),
            },
            subjects: Some(vec![sa_subject(NAME, ns)]),
        }),
    ];
    // Metrics are served by the agents themselves: no collector.
    if !matches!(plan.capture, Capture::Metrics { .. }) {
        out.push(to_value(&collector::service(plan)));
        out.push(to_value(&collector::pod(plan)));
    }
    out.push(to_value(&agent::daemon_set(plan)));
    out.extend(monitoring::objects(plan));
    out
}

/// What the collector (or, for metrics, the agents' pipeline) reads to enrich flows: pods,
/// services, nodes and the owners of pods.
fn cluster_role(plan: &Plan) -> ClusterRole {
    let rule = |group: &str, resources: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources.iter().map(|r| (*r).to_string()).collect()),
        verbs: ["get", "list", "watch"].map(String::from).to_vec(),
        ..PolicyRule::default()
    };
    ClusterRole {
        metadata: meta(&plan.cluster_name(), None, plan.labels()),
        rules: Some(vec![
            rule("", &["pods", "services", "nodes"]),
            rule("apps", &["replicasets"]),
        ]),
        ..ClusterRole::default()
    }
}

/// The Lease that says the run is alive: the CLI renews it while it watches the capture; once
/// `renewTime + leaseDurationSeconds` is past, a later run or `cleanup` treats what carries the
/// run's label as leftovers of a crash.
pub fn lease(plan: &Plan, now: MicroTime, duration: Duration) -> Value {
    to_value(&Lease {
        metadata: meta(NAME, Some(plan.namespace()), plan.labels()),
        spec: Some(LeaseSpec {
            holder_identity: Some(plan.run_id.clone()),
            lease_duration_seconds: Some(i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            ..LeaseSpec::default()
        }),
    })
}

/// The objects as a multi-document YAML stream (`--yaml`).
pub fn to_yaml(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|o| serde_yaml::to_string(o).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("---\n")
}

fn to_value<T: serde::Serialize>(o: &T) -> Value {
    // k8s-openapi objects always serialise (plain data, string keys).
    serde_json::to_value(o).unwrap_or(Value::Null)
}
