//! The rendered object type: k8s-openapi types for built-in kinds, `DynamicObject` for the
//! optional CRD kinds (ServiceMonitor, PrometheusRule, ConsolePlugin), behind one enum so that the
//! apply loop and the golden tests treat them uniformly.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use std::fmt;

/// Every kind the operator manages, in apply order. Pruning lists exactly these kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ManagedKind {
    /// core/v1 Namespace.
    Namespace,
    /// core/v1 ServiceAccount.
    ServiceAccount,
    /// rbac ClusterRoleBinding.
    ClusterRoleBinding,
    /// rbac RoleBinding.
    RoleBinding,
    /// core/v1 ConfigMap.
    ConfigMap,
    /// core/v1 Service.
    Service,
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// autoscaling/v2 HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
    /// networking/v1 NetworkPolicy.
    NetworkPolicy,
    /// monitoring.coreos.com/v1 ServiceMonitor (optional API).
    ServiceMonitor,
    /// monitoring.coreos.com/v1 PrometheusRule (optional API).
    PrometheusRule,
    /// console.openshift.io/v1 ConsolePlugin (optional API).
    ConsolePlugin,
    /// security.openshift.io/v1 SecurityContextConstraints (optional API: OpenShift).
    SecurityContextConstraints,
    /// core/v1 PersistentVolumeClaim (demo Loki storage).
    PersistentVolumeClaim,
    /// core/v1 Secret (copies of certificates referenced in another namespace).
    Secret,
}

impl ManagedKind {
    /// All kinds, in apply order.
    pub const ALL: &'static [ManagedKind] = &[
        Self::Namespace,
        Self::SecurityContextConstraints,
        Self::ServiceAccount,
        Self::ClusterRoleBinding,
        Self::RoleBinding,
        Self::ConfigMap,
        Self::Secret,
        Self::PersistentVolumeClaim,
        Self::Service,
        Self::Deployment,
        Self::DaemonSet,
        Self::HorizontalPodAutoscaler,
        Self::NetworkPolicy,
        Self::ServiceMonitor,
        Self::PrometheusRule,
        Self::ConsolePlugin,
    ];

    /// (group, version, kind, plural, namespaced).
    const fn parts(self) -> (&'static str, &'static str, &'static str, &'static str, bool) {
        match self {
            Self::Namespace => ("", "v1", "Namespace", "namespaces", false),
            Self::ServiceAccount => ("", "v1", "ServiceAccount", "serviceaccounts", true),
            Self::ClusterRoleBinding => (
                "rbac.authorization.k8s.io",
                "v1",
                "ClusterRoleBinding",
                "clusterrolebindings",
                false,
            ),
            Self::RoleBinding => (
                "rbac.authorization.k8s.io",
                "v1",
                "RoleBinding",
                "rolebindings",
                true,
            ),
            Self::ConfigMap => ("", "v1", "ConfigMap", "configmaps", true),
            Self::Service => ("", "v1", "Service", "services", true),
            Self::Deployment => ("apps", "v1", "Deployment", "deployments", true),
            Self::DaemonSet => ("apps", "v1", "DaemonSet", "daemonsets", true),
            Self::HorizontalPodAutoscaler => (
                "autoscaling",
                "v2",
                "HorizontalPodAutoscaler",
                "horizontalpodautoscalers",
                true,
            ),
            Self::NetworkPolicy => (
                "networking.k8s.io",
                "v1",
                "NetworkPolicy",
                "networkpolicies",
                true,
            ),
            Self::ServiceMonitor => (
                "monitoring.coreos.com",
                "v1",
                "ServiceMonitor",
                "servicemonitors",
                true,
            ),
            Self::PrometheusRule => (
                "monitoring.coreos.com",
                "v1",
                "PrometheusRule",
                "prometheusrules",
                true,
            ),
            Self::ConsolePlugin => (
                "console.openshift.io",
                "v1",
                "ConsolePlugin",
                "consoleplugins",
                false,
            ),
            Self::SecurityContextConstraints => (
                "security.openshift.io",
                "v1",
                "SecurityContextConstraints",
                "securitycontextconstraints",
                false,
            ),
            Self::Secret => ("", "v1", "Secret", "secrets", true),
            Self::PersistentVolumeClaim => (
                "",
                "v1",
                "PersistentVolumeClaim",
                "persistentvolumeclaims",
                true,
            ),
        }
    }

    /// The API resource, for dynamic API calls.
    pub fn api_resource(self) -> ApiResource {
        let (group, version, kind, plural, _) = self.parts();
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
    }

    /// Kind name.
    pub fn kind(self) -> &'static str {
        self.parts().2
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        self.parts().4
    }

    /// The discovery key (`group/version/Kind`) when the kind comes from an optional API.
    pub fn optional_api(self) -> Option<&'static str> {
        match self {
            Self::ServiceMonitor => Some(super::API_SERVICE_MONITOR),
            Self::PrometheusRule => Some(super::API_PROMETHEUS_RULE),
            Self::ConsolePlugin => Some(super::API_CONSOLE_PLUGIN),
            Self::SecurityContextConstraints => Some(super::API_SCC),
            _ => None,
        }
    }
}

/// Identity of an object: kind, namespace, name. Pruning compares these.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// Kind.
    pub kind: ManagedKind,
    /// Namespace (None for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind.kind(), ns, self.name),
            None => write!(f, "{}/{}", self.kind.kind(), self.name),
        }
    }
}

/// One desired object.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Object {
    /// Namespace.
    Namespace(Namespace),
    /// ServiceAccount.
    ServiceAccount(ServiceAccount),
    /// ClusterRoleBinding.
    ClusterRoleBinding(ClusterRoleBinding),
    /// RoleBinding.
    RoleBinding(RoleBinding),
    /// ConfigMap.
    ConfigMap(ConfigMap),
    /// Service.
    Service(Service),
    /// Deployment.
    Deployment(Deployment),
    /// DaemonSet.
    DaemonSet(DaemonSet),
    /// HorizontalPodAutoscaler.
    Hpa(HorizontalPodAutoscaler),
    /// NetworkPolicy.
    NetworkPolicy(NetworkPolicy),
    /// PersistentVolumeClaim.
    Pvc(PersistentVolumeClaim),
    /// Secret (certificates the operator issues itself).
    Secret(Secret),
    /// An object of an optional CRD kind.
    Dynamic(ManagedKind, DynamicObject),
}

macro_rules! each {
    ($self:expr, $o:ident => $e:expr) => {
        match $self {
            Object::Namespace($o) => $e,
            Object::ServiceAccount($o) => $e,
            Object::ClusterRoleBinding($o) => $e,
            Object::RoleBinding($o) => $e,
            Object::ConfigMap($o) => $e,
            Object::Service($o) => $e,
            Object::Deployment($o) => $e,
            Object::DaemonSet($o) => $e,
            Object::Hpa($o) => $e,
            Object::NetworkPolicy($o) => $e,
            Object::Pvc($o) => $e,
            Object::Secret($o) => $e,
            Object::Dynamic(_, $o) => $e,
        }
    };
}

impl Object {
    /// The kind.
    pub fn kind(&self) -> ManagedKind {
        match self {
            Self::Namespace(_) => ManagedKind::Namespace,
            Self::ServiceAccount(_) => ManagedKind::ServiceAccount,
            Self::ClusterRoleBinding(_) => ManagedKind::ClusterRoleBinding,
            Self::RoleBinding(_) => ManagedKind::RoleBinding,
            Self::ConfigMap(_) => ManagedKind::ConfigMap,
            Self::Service(_) => ManagedKind::Service,
            Self::Deployment(_) => ManagedKind::Deployment,
            Self::DaemonSet(_) => ManagedKind::DaemonSet,
            Self::Hpa(_) => ManagedKind::HorizontalPodAutoscaler,
            Self::NetworkPolicy(_) => ManagedKind::NetworkPolicy,
            Self::Pvc(_) => ManagedKind::PersistentVolumeClaim,
            Self::Secret(_) => ManagedKind::Secret,
            Self::Dynamic(kind, _) => *kind,
        }
    }

    /// Metadata.
    pub fn meta(&self) -> &ObjectMeta {
        each!(self, o => &o.metadata)
    }

    /// Mutable metadata.
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        each!(self, o => &mut o.metadata)
    }

    /// Kind, namespace and name.
    pub fn key(&self) -> ObjectKey {
        let meta = self.meta();
        ObjectKey {
            kind: self.kind(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }

    /// The full object as JSON, with `apiVersion` and `kind`, ready for server-side apply.
    pub fn to_value(&self) -> crate::error::Result<serde_json::Value> {
        let what = self.key().to_string();
        let mut value = each!(self, o => super::to_json(&what, o))?;
        let ar = self.kind().api_resource();
        if let Some(map) = value.as_object_mut() {
            map.insert("apiVersion".to_string(), ar.api_version.into());
            map.insert("kind".to_string(), ar.kind.into());
        }
        Ok(value)
    }
}

/// A DynamicObject of an optional kind with the given metadata and top-level fields (`spec`).
pub fn dynamic(kind: ManagedKind, metadata: ObjectMeta, data: serde_json::Value) -> Object {
    let ar = kind.api_resource();
    let mut obj = DynamicObject::new(metadata.name.as_deref().unwrap_or_default(), &ar);
    obj.metadata = metadata;
    obj.data = data;
    Object::Dynamic(kind, obj)
}
