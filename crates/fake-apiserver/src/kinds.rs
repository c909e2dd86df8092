//! The resource kinds the fake serves: the built-in kinds an operator of this kind touches, and
//! whatever CustomResourceDefinitions a test installs (each version with its own schema).

use serde_json::Value;
use std::sync::OnceLock;

/// How objects of a kind are checked and normalised on write.
#[derive(Clone, Debug)]
pub enum Schema {
    /// A built-in kind: its OpenAPI schema (from k8s-openapi) tells list and map fields, which
    /// the server drops when empty, from structs, which it keeps.
    Builtin(fn() -> &'static Value),
    /// A custom resource: pruned, defaulted and validated against its version's schema.
    Custom(CustomKind),
}

/// A custom kind registered by a CRD.
#[derive(Clone, Debug)]
pub struct CustomKind {
    /// `metadata.name` of the CRD.
    pub crd: String,
    /// `openAPIV3Schema` of every served version.
    pub schemas: Vec<(String, Value)>,
    /// The storage version (objects are stored with it, whatever version they were written in).
    pub storage: String,
    /// Whether `/status` is a subresource (then the main resource ignores status changes).
    pub status_subresource: bool,
    /// Whether versions are converted by a webhook (`spec.conversion.strategy: Webhook`).
    pub conversion_webhook: bool,
}

impl CustomKind {
    /// The schema of `version`, when that version is served.
    pub fn schema(&self, version: &str) -> Option<&Value> {
        self.schemas
            .iter()
            .find(|(v, _)| v == version)
            .map(|(_, s)| s)
    }
}

/// One kind as the fake serves it.
#[derive(Clone, Debug)]
pub struct Kind {
    /// API group (empty for core).
    pub group: String,
    /// Versions served.
    pub versions: Vec<String>,
    /// Kind name.
    pub kind: String,
    /// Plural resource name (URL segment).
    pub plural: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Whether the kind has a status the main resource may not change.
    pub has_status: bool,
    /// Whether `metadata.generation` is kept (bumped when anything but metadata and status
    /// changes).
    pub generation: bool,
    /// How writes are checked.
    pub schema: Schema,
}

impl Kind {
    /// `apiVersion` for `version`.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// `group/Kind` as the API server names it in messages (`Deployment.apps`).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

fn schema_of<T: schemars::JsonSchema>() -> Value {
    let mut settings = schemars::generate::SchemaSettings::openapi3();
    settings.inline_subschemas = true;
    let generator = settings.into_generator();
    serde_json::to_value(generator.into_root_schema_for::<T>()).unwrap_or_default()
}

macro_rules! builtin_schema {
    ($name:ident, $ty:ty) => {
        pub(super) fn $name() -> &'static Value {
            static SCHEMA: OnceLock<Value> = OnceLock::new();
            SCHEMA.get_or_init(schema_of::<$ty>)
        }
    };
}

mod schemas {
    use super::*;
    use k8s_openapi::api;
    builtin_schema!(namespace, api::core::v1::Namespace);
    builtin_schema!(service_account, api::core::v1::ServiceAccount);
    builtin_schema!(config_map, api::core::v1::ConfigMap);
    builtin_schema!(secret, api::core::v1::Secret);
    builtin_schema!(service, api::core::v1::Service);
    builtin_schema!(pod, api::core::v1::Pod);
    builtin_schema!(node, api::core::v1::Node);
    builtin_schema!(core_event, api::core::v1::Event);
    builtin_schema!(pvc, api::core::v1::PersistentVolumeClaim);
    builtin_schema!(deployment, api::apps::v1::Deployment);
    builtin_schema!(daemon_set, api::apps::v1::DaemonSet);
    builtin_schema!(replica_set, api::apps::v1::ReplicaSet);
    builtin_schema!(hpa, api::autoscaling::v2::HorizontalPodAutoscaler);
    builtin_schema!(network_policy, api::networking::v1::NetworkPolicy);
    builtin_schema!(cluster_role, api::rbac::v1::ClusterRole);
    builtin_schema!(cluster_role_binding, api::rbac::v1::ClusterRoleBinding);
    builtin_schema!(role, api::rbac::v1::Role);
    builtin_schema!(role_binding, api::rbac::v1::RoleBinding);
    builtin_schema!(lease, api::coordination::v1::Lease);
    builtin_schema!(event, api::events::v1::Event);
    builtin_schema!(
        validating_webhooks,
        api::admissionregistration::v1::ValidatingWebhookConfiguration
    );
    builtin_schema!(
        mutating_webhooks,
        api::admissionregistration::v1::MutatingWebhookConfiguration
    );
    /// CRDs are checked by [`crate::structural`]; their own schema is recursive, so no
    /// omitempty normalisation is done on them.
    pub fn none() -> &'static Value {
        static EMPTY: OnceLock<Value> = OnceLock::new();
        EMPTY.get_or_init(|| serde_json::json!({}))
    }
}

/// The built-in kinds: (group, version, kind, plural, namespaced, has_status, generation, schema).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    bool,
    bool,
    fn() -> &'static Value,
);

const BUILTIN: &[Row] = &[
    (
        "",
        "v1",
        "Namespace",
        "namespaces",
        false,
        true,
        false,
        schemas::namespace,
    ),
    (
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        false,
        false,
        schemas::service_account,
    ),
    (
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        true,
        false,
        false,
        schemas::config_map,
    ),
    (
        "",
        "v1",
        "Secret",
        "secrets",
        true,
        false,
        false,
        schemas::secret,
    ),
    (
        "",
        "v1",
        "Service",
        "services",
        true,
        true,
        false,
        schemas::service,
    ),
    ("", "v1", "Pod", "pods", true, true, false, schemas::pod),
    ("", "v1", "Node", "nodes", false, true, false, schemas::node),
    (
        "",
        "v1",
        "Event",
        "events",
        true,
        false,
        false,
        schemas::core_event,
    ),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        true,
        false,
        schemas::pvc,
    ),
    (
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        true,
        true,
        schemas::deployment,
    ),
    (
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        true,
        true,
        true,
        schemas::daemon_set,
    ),
    (
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        true,
        true,
        schemas::replica_set,
    ),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        true,
        true,
        schemas::hpa,
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        false,
        true,
        schemas::network_policy,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        false,
        false,
        schemas::cluster_role,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        false,
        false,
        schemas::cluster_role_binding,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        false,
        false,
        schemas::role,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        false,
        false,
        schemas::role_binding,
    ),
    (
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        true,
        false,
        false,
        schemas::lease,
    ),
    (
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        true,
        false,
        false,
        schemas::event,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        false,
        true,
        schemas::validating_webhooks,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        false,
        true,
        schemas::mutating_webhooks,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        true,
        true,
        schemas::none,
    ),
];

/// Every built-in kind.
pub fn builtin() -> Vec<Kind> {
    BUILTIN
        .iter()
        .map(
            |&(group, version, kind, plural, namespaced, has_status, generation, schema)| Kind {
                group: group.to_string(),
                versions: vec![version.to_string()],
                kind: kind.to_string(),
                plural: plural.to_string(),
                namespaced,
                has_status,
                generation,
                schema: Schema::Builtin(schema),
            },
        )
        .collect()
}

/// The kinds a CRD declares (one per CRD, served at each of its served versions).
pub fn from_crd(crd: &Value) -> Option<Kind> {
    let spec = crd.get("spec")?;
    let mut schemas = Vec::new();
    let mut storage = None;
    let mut status_subresource = false;
    for version in spec.get("versions")?.as_array()? {
        let name = version.get("name")?.as_str()?.to_string();
        if version.get("storage") == Some(&Value::Bool(true)) {
            storage = Some(name.clone());
            status_subresource = version.pointer("/subresources/status").is_some();
        }
        if version.get("served") == Some(&Value::Bool(true)) {
            schemas.push((name, version.pointer("/schema/openAPIV3Schema")?.clone()));
        }
    }
    Some(Kind {
        group: spec.get("group")?.as_str()?.to_string(),
        versions: schemas.iter().map(|(v, _)| v.clone()).collect(),
        kind: spec.pointer("/names/kind")?.as_str()?.to_string(),
        plural: spec.pointer("/names/plural")?.as_str()?.to_string(),
        namespaced: spec.get("scope")?.as_str()? == "Namespaced",
        has_status: status_subresource,
        generation: true,
        schema: Schema::Custom(CustomKind {
            crd: crd.pointer("/metadata/name")?.as_str()?.to_string(),
            schemas,
            storage: storage?,
            status_subresource,
            conversion_webhook: spec.pointer("/conversion/strategy").and_then(Value::as_str)
                == Some("Webhook"),
        }),
    })
}
