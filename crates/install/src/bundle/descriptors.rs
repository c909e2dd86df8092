//! OLM spec / status descriptors: how the OpenShift console labels and edits the main fields of
//! the owned APIs. Every path must exist in the CRD schema; the validator checks it.

/// One descriptor row: JSON path under `spec` or `status`, label, help, console widgets.
pub struct Descriptor {
    /// Dotted path below `spec` / `status`.
    pub path: &'static str,
    /// Label in the console form.
    pub display_name: &'static str,
    /// Help text.
    pub description: &'static str,
    /// `urn:alm:descriptor:...` widgets.
    pub x_descriptors: &'static [&'static str],
}

const TEXT: &str = "urn:alm:descriptor:com.tectonic.ui:text";
const NUMBER: &str = "urn:alm:descriptor:com.tectonic.ui:number";
const SWITCH: &str = "urn:alm:descriptor:com.tectonic.ui:booleanSwitch";
const SELECT_AGENT: &str = "urn:alm:descriptor:com.tectonic.ui:select:eBPF";
const SELECT_DIRECT: &str = "urn:alm:descriptor:com.tectonic.ui:select:Direct";
const SELECT_KAFKA: &str = "urn:alm:descriptor:com.tectonic.ui:select:Kafka";
const SELECT_SERVICE: &str = "urn:alm:descriptor:com.tectonic.ui:select:Service";
const ADVANCED: &str = "urn:alm:descriptor:com.tectonic.ui:advanced";
const NAMESPACE: &str = "urn:alm:descriptor:io.kubernetes:Namespace";
const CONDITIONS: &str = "urn:alm:descriptor:io.kubernetes.conditions";

const fn d(
    path: &'static str,
    display_name: &'static str,
    description: &'static str,
    x_descriptors: &'static [&'static str],
) -> Descriptor {
    Descriptor {
        path,
        display_name,
        description,
        x_descriptors,
    }
}

/// FlowCollector (v1beta2) spec fields shown in the install form.
pub const FLOWCOLLECTOR_SPEC: &[Descriptor] = &[
    d(
        "namespace",
        "Namespace",
        "Namespace where the components are deployed.",
        &[NAMESPACE],
    ),
    d(
        "deploymentModel",
        "Deployment model",
        "Direct (agents send to a pipeline on each node), Service (to a pipeline Service) or Kafka.",
        &[SELECT_DIRECT, SELECT_SERVICE, SELECT_KAFKA],
    ),
    d(
        "agent.type",
        "Agent type",
        "The flow agent; eBPF is the only one.",
        &[SELECT_AGENT],
    ),
    d(
        "agent.ebpf.sampling",
        "Sampling ratio",
        "1 packet in N is observed; 1 observes every packet.",
        &[NUMBER],
    ),
    d(
        "agent.ebpf.features",
        "Agent features",
        "Optional measurements: PacketDrop, DNSTracking, FlowRTT, NetworkEvents, PacketTranslation, ...",
        &[ADVANCED],
    ),
    d(
        "agent.ebpf.privileged",
        "Privileged agent",
        "Run the agent privileged (needed for secondary interfaces).",
        &[SWITCH, ADVANCED],
    ),
    d(
        "processor.logTypes",
        "Log types",
        "Flows, Conversations, EndedConversations or All.",
        &[ADVANCED],
    ),
    d(
        "loki.enable",
        "Loki enabled",
        "Store flows in Loki.",
        &[SWITCH],
    ),
    d(
        "loki.mode",
        "Loki mode",
        "How the Loki endpoints are given.",
        &[TEXT],
    ),
    d(
        "consolePlugin.enable",
        "Console plugin",
        "Deploy the console.",
        &[SWITCH],
    ),
    d(
        "exporters",
        "Exporters",
        "Extra destinations: Kafka, IPFIX, OpenTelemetry.",
        &[ADVANCED],
    ),
];

/// FlowCollector status fields.
pub const FLOWCOLLECTOR_STATUS: &[Descriptor] = &[
    d(
        "conditions",
        "Conditions",
        "Readiness and configuration issues.",
        &[CONDITIONS],
    ),
    d(
        "namespace",
        "Namespace",
        "Namespace where the components run.",
        &[TEXT],
    ),
];

/// FlowMetric spec fields.
pub const FLOWMETRIC_SPEC: &[Descriptor] = &[
    d(
        "metricName",
        "Metric name",
        "Name without the netobserv_ prefix.",
        &[TEXT],
    ),
    d(
        "type",
        "Metric type",
        "Counter, Histogram or Gauge.",
        &[TEXT],
    ),
    d(
        "valueField",
        "Value field",
        "Flow field summed (default: count flows).",
        &[TEXT],
    ),
    d(
        "labels",
        "Labels",
        "Flow fields used as metric labels.",
        &[],
    ),
    d("filters", "Filters", "Which flows the metric counts.", &[]),
];

/// FlowMetric status fields.
pub const FLOWMETRIC_STATUS: &[Descriptor] = &[
    d(
        "conditions",
        "Conditions",
        "Ready and cardinality warnings.",
        &[CONDITIONS],
    ),
    d(
        "prometheusName",
        "Prometheus name",
        "Full name of the exposed metric.",
        &[TEXT],
    ),
];

/// The descriptors of an owned API version (the latest version of each kind gets them).
pub fn for_kind(kind: &str, version: &str) -> (&'static [Descriptor], &'static [Descriptor]) {
    match (kind, version) {
        ("FlowCollector", "v1beta2") => (FLOWCOLLECTOR_SPEC, FLOWCOLLECTOR_STATUS),
        ("FlowMetric", "v1alpha1") => (FLOWMETRIC_SPEC, FLOWMETRIC_STATUS),
        _ => (&[], &[]),
    }
}
