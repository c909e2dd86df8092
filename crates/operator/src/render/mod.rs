//! Pure rendering: from a FlowCollector (plus what is known about the cluster, the operand images
//! and the FlowMetrics) to every object the operator should have in the cluster.
//!
//! Nothing here talks to the API server, so the whole desired state can be pinned by golden tests
//! and reviewed as YAML. The apply loop only adds what a render cannot know (current replica
//! counts of unmanaged workloads) and decides what to prune.

pub mod agent;
pub mod certs;
pub mod dashboards;
pub mod demo_loki;
pub mod digest;
pub mod flp;
pub mod flp_config;
pub mod loki;
pub mod metrics;
pub mod monitoring;
pub mod netpol;
pub mod object;
pub mod plugin;
pub mod pod;
pub mod quantity;
pub mod transport;

use crate::error::Result;
use crate::images::Images;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount, Toleration};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use netobserv_api::v1alpha1::FlowMetric;
use netobserv_api::v1beta2::{ExecutionMode, FlowCollector, FlowCollectorSpec, MountableType};
use netobserv_api::validate::{ClusterFacts, Platform};
use std::collections::BTreeMap;

pub use object::{ManagedKind, Object, ObjectKey};

/// Label on every object the operator creates; pruning only considers objects carrying it.
pub const MANAGED_LABEL: &str = "netobserv-managed";
/// Label shared by every operand pod; the main network policy selects it.
pub const PART_OF_LABEL: &str = "part-of";
/// Value of [`PART_OF_LABEL`].
pub const PART_OF_VALUE: &str = "netobserv-operator";
/// Pod annotation holding the digest of the static configuration: a change rolls the pods.
pub const CONFIG_DIGEST_ANNOTATION: &str = "flows.netobserv.io/config-digest";
/// The single field manager used for server-side apply.
pub const FIELD_MANAGER: &str = "netobserv-operator";

/// Discovery key of the Prometheus Operator ServiceMonitor API.
pub const API_SERVICE_MONITOR: &str = "monitoring.coreos.com/v1/ServiceMonitor";
/// Discovery key of the Prometheus Operator PrometheusRule API.
pub const API_PROMETHEUS_RULE: &str = "monitoring.coreos.com/v1/PrometheusRule";
/// Discovery key of the OpenShift ConsolePlugin API.
pub const API_CONSOLE_PLUGIN: &str = "console.openshift.io/v1/ConsolePlugin";
/// Discovery key of the OpenShift SecurityContextConstraints API (its presence means OpenShift).
pub const API_SCC: &str = "security.openshift.io/v1/SecurityContextConstraints";
/// Discovery key of the LokiStack API.
pub const API_LOKISTACK: &str = "loki.grafana.com/v1/LokiStack";

/// Optional APIs the operator looks for at start and periodically.
pub const OPTIONAL_APIS: &[&str] = &[
    API_SERVICE_MONITOR,
    API_PROMETHEUS_RULE,
    API_CONSOLE_PLUGIN,
    API_SCC,
    API_LOKISTACK,
];

/// Everything a render needs, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The `cluster` FlowCollector.
    pub fc: &'a FlowCollector,
    /// Platform, CNI and optional APIs.
    pub facts: &'a ClusterFacts,
    /// Operand images.
    pub images: &'a Images,
    /// FlowMetrics of the main namespace, turned into processor metrics.
    pub flow_metrics: &'a [FlowMetric],
    /// Where sub-renders record the Secrets/ConfigMaps to copy across namespaces.
    pub copies: &'a std::cell::RefCell<Vec<CertCopy>>,
}

/// A Secret or ConfigMap that a pod references in another namespace: the reconciler copies it
/// into the pod's namespace (annotated with its origin, owned by the FlowCollector) before the
/// workloads are applied, since a pod can only mount objects of its own namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertCopy {
    /// Secret or ConfigMap.
    pub kind: MountableType,
    /// Namespace of the original.
    pub source_namespace: String,
    /// Name of the original and of the copy.
    pub name: String,
    /// Namespace of the copy.
    pub target_namespace: String,
}

impl CertCopy {
    /// Identity of the copy.
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            kind: match self.kind {
                MountableType::Secret => ManagedKind::Secret,
                MountableType::ConfigMap => ManagedKind::ConfigMap,
            },
            namespace: Some(self.target_namespace.clone()),
            name: self.name.clone(),
        }
    }
}

/// Annotation on copies naming the original (`<namespace>/<name>`).
pub const COPIED_FROM_ANNOTATION: &str = "flows.netobserv.io/copied-from";

/// The desired state: objects to apply, and objects to copy across namespaces.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    /// Objects, in apply order.
    pub objects: Vec<Object>,
    /// Secrets and ConfigMaps to copy (sorted, deduplicated).
    pub copies: Vec<CertCopy>,
}

impl Inputs<'_> {
    /// The spec.
    pub fn spec(&self) -> &FlowCollectorSpec {
        &self.fc.spec
    }
    /// Main namespace.
    pub fn ns(&self) -> &str {
        namespace(self.spec())
    }
    /// Privileged namespace of the agents.
    pub fn privileged_ns(&self) -> String {
        privileged_namespace(self.spec())
    }
    /// Records cross-namespace references found while building volumes.
    pub fn record_copies(&self, copies: &[CertCopy]) {
        let mut all = self.copies.borrow_mut();
        for c in copies {
            if !all.contains(c) {
                all.push(c.clone());
            }
        }
    }

    /// Whether the cluster serves an optional API.
    pub fn has_api(&self, api: &str) -> bool {
        self.facts.available_apis.contains(api)
    }
    /// OpenShift, from the platform or from the SCC API being served.
    pub fn is_openshift(&self) -> bool {
        matches!(self.facts.platform, Platform::OpenShift(_)) || self.has_api(API_SCC)
    }
}

/// Main namespace of a spec (`netobserv` when empty).
pub fn namespace(spec: &FlowCollectorSpec) -> &str {
    if spec.namespace.is_empty() {
        "netobserv"
    } else {
        &spec.namespace
    }
}

/// Namespace of the agents: `<namespace>-privileged`.
pub fn privileged_namespace(spec: &FlowCollectorSpec) -> String {
    format!("{}-privileged", namespace(spec))
}

/// Renders every object the FlowCollector asks for, in apply order (namespaces and RBAC first).
///
/// Owner references to the FlowCollector are set on everything except the main namespace, which
/// may hold the operator itself and other user objects, so deleting the FlowCollector must not
/// delete it.
pub fn render(
    fc: &FlowCollector,
    facts: &ClusterFacts,
    images: &Images,
    flow_metrics: &[FlowMetric],
) -> Result<Vec<Object>> {
    Ok(render_all(fc, facts, images, flow_metrics)?.objects)
}

/// Labels an object as managed and makes the FlowCollector its owner (garbage collection), except
/// the FlowCollector's own namespace, which may hold the operator and outlives it.
pub fn mark_managed(obj: &mut Object, fc: &FlowCollector) {
    let keep_unowned = matches!(obj, Object::Namespace(_))
        && obj.meta().name.as_deref() == Some(namespace(&fc.spec));
    let owner = fc.controller_owner_ref(&());
    let meta = obj.meta_mut();
    meta.labels
        .get_or_insert_with(BTreeMap::new)
        .insert(MANAGED_LABEL.to_string(), "true".to_string());
    if let (Some(owner), false) = (owner, keep_unowned) {
        meta.owner_references = Some(vec![OwnerReference {
            block_owner_deletion: Some(false),
            ..owner
        }]);
    }
}

/// Like [`render`], plus the Secrets/ConfigMaps to copy across namespaces.
pub fn render_all(
    fc: &FlowCollector,
    facts: &ClusterFacts,
    images: &Images,
    flow_metrics: &[FlowMetric],
) -> Result<Rendered> {
    let copies = std::cell::RefCell::new(Vec::new());
    let inputs = Inputs {
        fc,
        facts,
        images,
        flow_metrics,
        copies: &copies,
    };
    let mut out = namespaces(&inputs);
    if fc.spec.execution.mode != ExecutionMode::OnHold {
        out.extend(agent::render(&inputs)?);
        out.extend(flp::render(&inputs)?);
        out.extend(plugin::render(&inputs)?);
        out.extend(monitoring::render(&inputs));
        out.extend(dashboards::render(&inputs));
        out.extend(netpol::render(&inputs));
        out.extend(demo_loki::render(&inputs));
    }
    for obj in &mut out {
        mark_managed(obj, fc);
    }
    let mut copies = copies.into_inner();
    copies.sort_by_key(|c| (c.key(), c.source_namespace.clone()));
    copies.dedup();
    Ok(Rendered {
        objects: out,
        copies,
    })
}

fn namespaces(inputs: &Inputs<'_>) -> Vec<Object> {
    let main = Namespace {
        metadata: ObjectMeta {
            name: Some(inputs.ns().to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let privileged = Namespace {
        metadata: ObjectMeta {
            name: Some(inputs.privileged_ns()),
            labels: Some(string_map(&[
                ("app", PART_OF_VALUE),
                ("pod-security.kubernetes.io/enforce", "privileged"),
                ("pod-security.kubernetes.io/audit", "privileged"),
            ])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    vec![Object::Namespace(main), Object::Namespace(privileged)]
}

/// A `BTreeMap<String, String>` from literal pairs.
pub fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// Standard labels of a component: `app`, `part-of` and the image `version`.
pub fn component_labels(app: &str, image: &str) -> BTreeMap<String, String> {
    string_map(&[
        ("app", app),
        (PART_OF_LABEL, PART_OF_VALUE),
        ("version", &crate::images::version_label(image)),
    ])
}

/// Pod selector labels of a component (stable across image upgrades).
pub fn selector_labels(app: &str) -> BTreeMap<String, String> {
    string_map(&[("app", app)])
}

/// Metadata with a name, namespace and labels.
pub fn meta(name: &str, ns: Option<&str>, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: ns.map(str::to_string),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// A ServiceAccount.
pub fn service_account(name: &str, ns: &str, labels: BTreeMap<String, String>) -> Object {
    Object::ServiceAccount(ServiceAccount {
        metadata: meta(name, Some(ns), labels),
        ..ServiceAccount::default()
    })
}

/// A ClusterRoleBinding of one ServiceAccount to one of the static component ClusterRoles
/// (config/rbac/component_roles.yaml); the operator never creates roles.
pub fn cluster_role_binding(name: &str, role: &str, sa: &str, sa_ns: &str) -> Object {
    Object::ClusterRoleBinding(ClusterRoleBinding {
        metadata: meta(name, None, string_map(&[(PART_OF_LABEL, PART_OF_VALUE)])),
        role_ref: role_ref(role),
        subjects: Some(vec![sa_subject(sa, sa_ns)]),
    })
}

/// A RoleBinding (in `ns`) of a subject to one of the static component ClusterRoles.
pub fn role_binding(name: &str, ns: &str, role: &str, subject: Subject) -> Object {
    Object::RoleBinding(RoleBinding {
        metadata: meta(
            name,
            Some(ns),
            string_map(&[(PART_OF_LABEL, PART_OF_VALUE)]),
        ),
        role_ref: role_ref(role),
        subjects: Some(vec![subject]),
    })
}

fn role_ref(role: &str) -> RoleRef {
    RoleRef {
        api_group: "rbac.authorization.k8s.io".to_string(),
        kind: "ClusterRole".to_string(),
        name: role.to_string(),
    }
}

/// A ServiceAccount subject.
pub fn sa_subject(name: &str, ns: &str) -> Subject {
    Subject {
        kind: "ServiceAccount".to_string(),
        name: name.to_string(),
        namespace: Some(ns.to_string()),
        api_group: None,
    }
}

/// The toleration that lets node agents run everywhere, masters included.
pub fn tolerate_all() -> Vec<Toleration> {
    vec![Toleration {
        operator: Some("Exists".to_string()),
        ..Toleration::default()
    }]
}

/// Serialises to JSON, turning the (bug-only) failure into a typed error.
pub fn to_json<T: serde::Serialize>(what: &str, value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|source| crate::Error::Serialize {
        what: what.to_string(),
        source,
    })
}

/// The HorizontalPodAutoscaler of Deployment `name`, from a FlowCollector autoscaler block (the
/// Kafka transformer and the console plugin share this shape).
pub fn deployment_hpa(
    name: &str,
    ns: &str,
    labels: BTreeMap<String, String>,
    hpa: &netobserv_api::v1beta2::FlowCollectorHpa,
) -> Object {
    use k8s_openapi::api::autoscaling::v2::{
        CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
    };
    Object::Hpa(HorizontalPodAutoscaler {
        metadata: meta(name, Some(ns), labels),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_string()),
                kind: "Deployment".to_string(),
                name: name.to_string(),
            },
            min_replicas: hpa.min_replicas,
            max_replicas: hpa.max_replicas,
            metrics: (!hpa.metrics.is_empty()).then(|| hpa.metrics.clone()),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    })
}
