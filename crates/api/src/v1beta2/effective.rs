//! What a FlowCollector spec means once defaults and feature gates are resolved: the metric list
//! the processor generates, the health rules installed, whether Loki or conversation tracking is
//! on. Validation and rendering both ask these questions, so the answers live here, once.

use super::{
    AgentFeature, DeploymentModel, FlowCollectorSpec, FlpHealthRule, FlpLogTypes, FlpMetric,
    HealthRuleGroupBy, HealthRuleTemplate, default_health_rules, default_include_list,
};

impl FlowCollectorSpec {
    /// Whether an agent feature is listed.
    pub fn has_feature(&self, feature: AgentFeature) -> bool {
        self.agent.ebpf.features.contains(&feature)
    }

    /// Whether flows are written to Loki.
    pub fn use_loki(&self) -> bool {
        self.loki.enable
    }

    /// Whether the processor tracks conversations (any log type but `Flows`).
    pub fn has_conntrack(&self) -> bool {
        self.processor.log_types != FlpLogTypes::Flows
    }

    /// Whether the agents talk to the processor through Kafka.
    pub fn use_kafka(&self) -> bool {
        self.deployment_model == DeploymentModel::Kafka
    }

    /// Whether some eBPF flow filter rule or processor filter samples more sparsely than every
    /// flow, which is what makes the `workload_sampling` metric meaningful.
    pub fn has_filter_sampling(&self) -> bool {
        let ebpf = self
            .agent
            .ebpf
            .flow_filter
            .as_ref()
            .filter(|f| f.enable == Some(true))
            .is_some_and(|f| {
                f.rules
                    .iter()
                    .chain(std::iter::once(&f.rule))
                    .any(|r| r.sampling.is_some_and(|s| s > 1))
            });
        ebpf || self.processor.filters.iter().any(|f| f.sampling > 1)
    }

    /// The metrics the processor generates: `includeList` when set, otherwise the default list
    /// (which depends on Loki) plus `additionalIncludeList`, then without the metrics whose agent
    /// feature is off.
    pub fn effective_include_list(&self) -> Vec<FlpMetric> {
        let metrics = &self.processor.metrics;
        let mut list = match &metrics.include_list {
            Some(list) => list.clone(),
            None => {
                let mut list = default_include_list(self.use_loki());
                for extra in metrics.additional_include_list.iter().flatten() {
                    if !list.contains(extra) {
                        list.push(*extra);
                    }
                }
                list
            }
        };
        list.retain(|m| self.metric_available(*m));
        list
    }

    /// Whether the data behind a metric is produced with the current features.
    fn metric_available(&self, metric: FlpMetric) -> bool {
        let name = metric.as_str();
        if name.contains("_drop_") {
            self.has_feature(AgentFeature::PacketDrop)
                || self.has_feature(AgentFeature::NetworkEvents)
        } else if name.contains("_rtt_") {
            self.has_feature(AgentFeature::FlowRtt)
        } else if name.contains("_dns_") {
            self.has_feature(AgentFeature::DnsTracking)
        } else if name.contains("_network_policy_") {
            self.has_feature(AgentFeature::NetworkEvents)
        } else if name.contains("_ipsec_") {
            self.has_feature(AgentFeature::IpSec)
        } else if name.ends_with("_sampling") {
            self.has_filter_sampling()
        } else {
            true
        }
    }

    /// The health rules that get installed: built-in defaults, each replaced by the user's rule for
    /// the same template, minus `disableAlerts`, minus rules whose agent feature is off.
    pub fn effective_health_rules(&self) -> Vec<FlpHealthRule> {
        let metrics = &self.processor.metrics;
        let configured = metrics.health_rules.as_deref().unwrap_or_default();
        let mut rules: Vec<FlpHealthRule> = default_health_rules()
            .into_iter()
            .filter(|d| !configured.iter().any(|c| c.template == d.template))
            .chain(configured.iter().cloned())
            .collect();
        rules.retain(|r| {
            !metrics.disable_alerts.contains(&r.template)
                && r.template
                    .required_feature()
                    .is_none_or(|f| self.has_feature(f))
        });
        rules
    }
}

impl HealthRuleTemplate {
    /// The agent feature whose data the rule needs, if any.
    pub fn required_feature(self) -> Option<AgentFeature> {
        match self {
            Self::PacketDropsByKernel => Some(AgentFeature::PacketDrop),
            Self::IpsecErrors => Some(AgentFeature::IpSec),
            Self::NetpolDenied => Some(AgentFeature::NetworkEvents),
            Self::LatencyHighTrend => Some(AgentFeature::FlowRtt),
            Self::DnsErrors | Self::DnsNxDomain => Some(AgentFeature::DnsTracking),
            _ => None,
        }
    }

    /// Metrics the rule's queries read, for one grouping. Each inner list is a choice: at least
    /// one of its metrics must be generated (a rule typically needs a numerator and a total).
    pub fn required_metrics(self, group_by: HealthRuleGroupBy) -> Vec<Vec<FlpMetric>> {
        use FlpMetric as M;
        // (namespace, workload, node) variants of each family.
        let drops = [
            M::NamespaceDropPacketsTotal,
            M::WorkloadDropPacketsTotal,
            M::NodeDropPacketsTotal,
        ];
        let ingress_pkts = [
            M::NamespaceIngressPacketsTotal,
            M::WorkloadIngressPacketsTotal,
            M::NodeIngressPacketsTotal,
        ];
        let egress_pkts = [
            M::NamespaceEgressPacketsTotal,
            M::WorkloadEgressPacketsTotal,
            M::NodeEgressPacketsTotal,
        ];
        let dns = [
            M::NamespaceDnsLatencySeconds,
            M::WorkloadDnsLatencySeconds,
            M::NodeDnsLatencySeconds,
        ];
        let egress_bytes = [
            M::NamespaceEgressBytesTotal,
            M::WorkloadEgressBytesTotal,
            M::NodeEgressBytesTotal,
        ];
        let ingress_bytes = [
            M::NamespaceIngressBytesTotal,
            M::WorkloadIngressBytesTotal,
            M::NodeIngressBytesTotal,
        ];
        let rtt = [
            M::NamespaceRttSeconds,
            M::WorkloadRttSeconds,
            M::NodeRttSeconds,
        ];
        let netpol = [
            M::NamespaceNetworkPolicyEventsTotal,
            M::WorkloadNetworkPolicyEventsTotal,
            M::NodeNetworkPolicyEventsTotal,
        ];
        let flows = [
            M::NamespaceFlowsTotal,
            M::WorkloadFlowsTotal,
            M::NodeFlowsTotal,
        ];
        // Which granularities can serve a grouping: a namespace rule can sum workload metrics.
        let pick = |family: &[FlpMetric; 3]| -> Vec<FlpMetric> {
            let [namespace, workload, node] = *family;
            match group_by {
                HealthRuleGroupBy::Node => vec![node],
                HealthRuleGroupBy::Namespace => vec![namespace, workload],
                HealthRuleGroupBy::Workload => vec![workload],
                HealthRuleGroupBy::Global => vec![namespace, workload, node],
            }
        };
        let both = |a: Vec<FlpMetric>, b: Vec<FlpMetric>| a.into_iter().chain(b).collect();
        match self {
            Self::PacketDropsByKernel => {
                vec![pick(&drops), both(pick(&ingress_pkts), pick(&egress_pkts))]
            }
            Self::IpsecErrors => vec![
                vec![M::NodeIpsecFlowsTotal],
                vec![M::NodeToNodeIngressFlowsTotal],
            ],
            Self::DnsErrors | Self::DnsNxDomain => vec![pick(&dns)],
            Self::ExternalEgressHighTrend => vec![pick(&egress_bytes)],
            Self::ExternalIngressHighTrend => vec![pick(&ingress_bytes)],
            Self::LatencyHighTrend => vec![pick(&rtt)],
            Self::NetpolDenied => vec![pick(&netpol), pick(&flows)],
            Self::NetObservNoFlows
            | Self::NetObservLokiError
            | Self::PacketDropsByDevice
            | Self::Ingress5xxErrors
            | Self::IngressHttpLatencyTrend => Vec::new(),
        }
    }
}

impl HealthRuleGroupBy {
    /// The grouping as users write it, with `Global` for the empty value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Global => "Global",
            Self::Node => "Node",
            Self::Namespace => "Namespace",
            Self::Workload => "Workload",
        }
    }
}
