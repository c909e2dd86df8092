//! The `network` transform: subnets, subnet labels, TCP flag names, node-level direction, port
//! service names, the application/infrastructure flow layer and Kubernetes metadata.

use super::services::{PortNames, protocol_number};
use super::{BuildError, Transformer};
use crate::config::{
    AddServiceRule, AddSubnetRule, DirectionInfo, KubernetesInfraRule, NetworkGenericRule,
    NetworkRuleKind, NetworkTransform, parse_mask,
};
use crate::kubernetes::{
    self, CompiledRule, IndexSettings, KubeEnricher, KubeSource, RuleError, SharedIndex,
};
use crate::record::{self, Key, Record, Value};
use compact_str::{CompactString, format_compact};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;

/// Names of the TCP flag bits, in bit order, as the eBPF agent encodes them (the low 8 bits are
/// the TCP header's; 0x100-0x400 are the agent's combined flags).
const TCP_FLAGS: [(u64, &str); 11] = [
    (0x001, "FIN"),
    (0x002, "SYN"),
    (0x004, "RST"),
    (0x008, "PSH"),
    (0x010, "ACK"),
    (0x020, "URG"),
    (0x040, "ECE"),
    (0x080, "CWR"),
    (0x100, "SYN_ACK"),
    (0x200, "FIN_ACK"),
    (0x400, "RST_ACK"),
];

/// The flag names set in `bits`.
pub fn decode_tcp_flags(bits: u64) -> Vec<Value> {
    TCP_FLAGS
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| Value::from(*name))
        .collect()
}

/// Bound of the per-address subnet label cache; past it the cache is cleared (addresses churn,
/// labels do not).
const LABEL_CACHE_MAX: usize = 65_536;

/// Each rule with its output name interned (see [`crate::fields::intern`]): inserting it into a record
/// then costs no allocation.
enum Op {
    Subnet(AddSubnetRule, u8, Key),
    SubnetLabel(NetworkGenericRule, Key),
    TcpFlags(NetworkGenericRule, Key),
    Direction,
    Service(AddServiceRule, Key),
    Infra(KubernetesInfraRule, Key),
    Kube(Box<CompiledRule>),
}

/// A built `network` stage.
pub struct NetworkStage {
    ops: Vec<Op>,
    labels: Vec<(IpNet, CompactString)>,
    label_cache: HashMap<IpAddr, Option<usize>>,
    direction: Option<DirectionInfo>,
    /// The interned flow-direction and interface-direction output names.
    direction_keys: Option<(Key, Key)>,
    services: PortNames,
    kube: Option<KubeEnricher>,
    kube_source: Option<KubeSource>,
}

fn rule_error(i: usize, e: RuleError) -> BuildError {
    match e {
        RuleError::Invalid(m) => BuildError::Invalid(format!("network.rules[{i}]: {m}")),
        RuleError::Unsupported(m) => BuildError::Unsupported(m),
    }
}

impl NetworkStage {
    /// Builds the stage: compiles subnet labels and reads the services file when needed. With
    /// `add_kubernetes` rules it starts watching the cluster (`kubeConfig.configPath` or the
    /// default kubeconfig / in-cluster) in the background: see [`Self::start_kube`].
    pub fn new(config: NetworkTransform) -> Result<Self, BuildError> {
        Self::build_with(config, &Self::start_kube)
    }

    /// Builds the stage with `add_kubernetes` answered from `index`, already filled (tests, local
    /// mode) or fed by the caller; no cluster is contacted.
    pub fn with_kube_index(
        config: NetworkTransform,
        index: SharedIndex,
    ) -> Result<Self, BuildError> {
        Self::build_with(config, &|_| {
            Ok(KubeSource {
                index: index.clone(),
                feed: None,
            })
        })
    }

    /// Builds the stage, asking `kube` for the index when it has `add_kubernetes` rules (so that
    /// several copies of the stage share one index and one set of watchers).
    pub fn build_with(
        config: NetworkTransform,
        kube: &dyn Fn(&NetworkTransform) -> Result<KubeSource, BuildError>,
    ) -> Result<Self, BuildError> {
        Self::build(config, kube)
    }

    /// Creates the index `config`'s `add_kubernetes` rules read and starts the watchers that
    /// fill it (on the process's runtime). The API server need not answer yet: the watchers
    /// retry, and [`KubeSource::pending`] says what they wait for.
    pub fn start_kube(config: &NetworkTransform) -> Result<KubeSource, BuildError> {
        Ok(kubernetes::start(config, &crate::stage::runtime())?)
    }

    /// What the stage's Kubernetes index still waits for (`None`: ready, or no such rules).
    pub fn kube_pending(&self) -> Option<String> {
        self.kube_source.as_ref().and_then(KubeSource::pending)
    }

    /// The index settings `config`'s `kubeConfig` and `add_kubernetes` rules call for, to create
    /// the index given to [`Self::with_kube_index`].
    pub fn kube_index_settings(config: &NetworkTransform) -> Result<IndexSettings, BuildError> {
        Ok(kubernetes::index_settings(
            config.kube_config.as_ref(),
            &kubernetes::kubernetes_rules(config),
        )?)
    }

    fn build(
        config: NetworkTransform,
        kube: &dyn Fn(&NetworkTransform) -> Result<KubeSource, BuildError>,
    ) -> Result<Self, BuildError> {
        let mut labels = Vec::new();
        for label in &config.subnet_labels {
            for cidr in &label.cidrs {
                let net: IpNet = cidr.parse().map_err(|_| {
                    BuildError::Invalid(format!(
                        "subnetLabels `{}`: `{cidr}` is not a CIDR",
                        label.name
                    ))
                })?;
                labels.push((net.trunc(), CompactString::from(label.name.as_str())));
            }
        }
        let mut ops = Vec::new();
        let mut services = PortNames::new();
        for (i, rule) in config.rules.iter().enumerate() {
            let missing = |key: &str| {
                BuildError::Invalid(format!(
                    "network.rules[{i}]: type {:?} needs `{key}`",
                    rule.kind
                ))
            };
            use NetworkRuleKind as K;
            ops.push(match rule.kind {
                K::AddSubnet => {
                    let r = rule
                        .add_subnet
                        .clone()
                        .ok_or_else(|| missing("add_subnet"))?;
                    let bits = parse_mask(&r.subnet_mask).map_err(BuildError::Invalid)?;
                    let out = record::key(&r.output);
                    Op::Subnet(r, bits, out)
                }
                K::AddSubnetLabel => {
                    let r = rule
                        .add_subnet_label
                        .clone()
                        .ok_or_else(|| missing("add_subnet_label"))?;
                    let out = record::key(&r.output);
                    Op::SubnetLabel(r, out)
                }
                K::DecodeTcpFlags => {
                    let r = rule
                        .decode_tcp_flags
                        .clone()
                        .ok_or_else(|| missing("decode_tcp_flags"))?;
                    let out = record::key(&r.output);
                    Op::TcpFlags(r, out)
                }
                K::ReinterpretDirection => {
                    if config.direction_info.is_none() {
                        return Err(BuildError::Invalid(
                            "reinterpret_direction needs the stage-level `directionInfo`".into(),
                        ));
                    }
                    Op::Direction
                }
                K::AddService => {
                    if services.is_empty() {
                        let path = if config.services_file.is_empty() {
                            "/etc/services"
                        } else {
                            &config.services_file
                        };
                        let text =
                            std::fs::read_to_string(path).map_err(|source| BuildError::File {
                                path: path.to_string(),
                                source,
                            })?;
                        services = super::services::parse(&text);
                    }
                    let r = rule
                        .add_service
                        .clone()
                        .ok_or_else(|| missing("add_service"))?;
                    let out = record::key(&r.output);
                    Op::Service(r, out)
                }
                K::AddKubernetesInfra => {
                    let infra = rule
                        .kubernetes_infra
                        .clone()
                        .ok_or_else(|| missing("kubernetes_infra"))?;
                    let out = record::key(&infra.output);
                    Op::Infra(infra, out)
                }
                K::AddKubernetes => {
                    let rule = rule
                        .kubernetes
                        .as_ref()
                        .ok_or_else(|| missing("kubernetes"))?;
                    Op::Kube(Box::new(
                        CompiledRule::new(rule).map_err(|e| rule_error(i, e))?,
                    ))
                }
                K::AddLocation => {
                    return Err(BuildError::Unsupported(format!(
                        "network rule {:?}",
                        rule.kind
                    )));
                }
            });
        }
        let kube_source = if ops.iter().any(|op| matches!(op, Op::Kube(_))) {
            Some(kube(&config)?)
        } else {
            None
        };
        let kube = kube_source
            .as_ref()
            .map(|source| KubeEnricher::new(source.index.clone()));
        Ok(Self {
            ops,
            labels,
            label_cache: HashMap::new(),
            direction_keys: config.direction_info.as_ref().map(|d| {
                (
                    record::key(&d.flow_direction_field),
                    record::key(&d.if_direction_field),
                )
            }),
            direction: config.direction_info,
            services,
            kube,
            kube_source,
        })
    }

    fn label_of(&mut self, ip: IpAddr) -> Option<&CompactString> {
        if self.label_cache.len() >= LABEL_CACHE_MAX {
            self.label_cache.clear();
        }
        let labels = &self.labels;
        let index = *self
            .label_cache
            .entry(ip)
            .or_insert_with(|| labels.iter().position(|(net, _)| net.contains(&ip)));
        index.map(|i| &self.labels[i].1)
    }
}

fn ip_of(record: &Record, field: &str) -> Option<IpAddr> {
    record.get(field)?.as_ip()
}

impl Transformer for NetworkStage {
    fn apply(&mut self, mut record: Record) -> Option<Record> {
        for i in 0..self.ops.len() {
            match &self.ops[i] {
                Op::Subnet(rule, bits, out) => {
                    if let Some(ip) = ip_of(&record, &rule.input) {
                        let max = if ip.is_ipv4() { 32 } else { 128 };
                        if let Ok(net) = IpNet::new(ip, (*bits).min(max)) {
                            record.insert(out.clone(), format_compact!("{}", net.trunc()));
                        }
                    }
                }
                Op::SubnetLabel(rule, out) => {
                    let out = out.clone();
                    if let Some(ip) = ip_of(&record, &rule.input)
                        && let Some(label) = self.label_of(ip)
                    {
                        record.insert(out, label.clone());
                    }
                }
                Op::TcpFlags(rule, out) => {
                    if let Some(bits) = record.get(&rule.input).and_then(Value::as_i64) {
                        let names = decode_tcp_flags(bits as u64);
                        record.insert(out.clone(), Value::List(names));
                    }
                }
                Op::Direction => {
                    if let (Some(info), Some(keys)) = (&self.direction, &self.direction_keys) {
                        reinterpret_direction(&mut record, info, keys);
                    }
                }
                Op::Service(rule, out) => {
                    let port = record.get(&rule.input).and_then(Value::as_i64);
                    let proto = record.get(&rule.protocol).and_then(|p| match p {
                        Value::Str(s) => protocol_number(s).map(i64::from),
                        other => other.as_i64(),
                    });
                    if let (Some(port), Some(proto)) = (port, proto)
                        && let (Ok(port), Ok(proto)) = (u16::try_from(port), u8::try_from(proto))
                        && let Some(name) = self.services.get(&(proto, port))
                    {
                        record.insert(out.clone(), &**name);
                    }
                }
                Op::Infra(rule, out) => {
                    let layer = flow_layer(&record, rule);
                    record.insert(out.clone(), layer);
                }
                Op::Kube(rule) => {
                    if let Some(kube) = &mut self.kube {
                        kube.enrich(rule, &mut record);
                    }
                }
            }
        }
        Some(record)
    }
}

/// Direction from the node's point of view: 1 (egress) when the reporting node is the source
/// host, 0 (ingress) when it is the destination host, 2 (inner) when both ends are on that host.
/// Without host information the interface-level direction is kept.
fn reinterpret_direction(record: &mut Record, info: &DirectionInfo, keys: &(Key, Key)) {
    let (flow_key, if_key) = keys;
    if !info.if_direction_field.is_empty()
        && let Some(d) = record.get(&info.flow_direction_field).cloned()
    {
        record.insert(if_key.clone(), d);
    }
    // Addresses compare as values (binary from the decoder, text from enrichment); anything
    // else, or an absent field, reads as the empty string, as upstream's string conversion.
    let empty = Value::Str(CompactString::default());
    let address = |field: &str| match record.get(field) {
        Some(v @ (Value::Str(_) | Value::Ip(_))) => v,
        _ => &empty,
    };
    let reporter = address(&info.reporter_ip_field);
    let src = address(&info.src_host_field);
    let dst = address(&info.dst_host_field);
    let direction = if src != dst {
        if reporter == src {
            Some(1)
        } else if reporter == dst {
            Some(0)
        } else {
            None
        }
    } else if *src != empty {
        Some(2)
    } else {
        None
    };
    if let Some(d) = direction {
        record.insert(flow_key.clone(), Value::Int(d));
    }
}

/// `app` unless every (namespace, name) pair of the record is infrastructure.
fn flow_layer(record: &Record, rule: &KubernetesInfraRule) -> &'static str {
    let is_infra = |namespace: &str, name: &str| {
        rule.infra_prefixes
            .iter()
            .any(|p| namespace.starts_with(p.as_str()))
            || rule
                .infra_refs
                .iter()
                .any(|r| r.namespace == namespace && r.name == name)
    };
    let text = |field: &str| {
        record
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let any_app = rule.namespace_name_fields.iter().any(|pair| {
        let namespace = text(&pair.namespace);
        !namespace.is_empty() && !is_infra(namespace, text(&pair.name))
    });
    if any_app { "app" } else { "infra" }
}
