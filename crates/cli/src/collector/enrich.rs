//! Kubernetes enrichment in the collector, by the pipeline's own `network` stage
//! (`add_kubernetes` on both ends, zones included): of each flow record, and of each packet
//! through a small record holding its two addresses, so flows and packets carry the same
//! `SrcK8S_*` / `DstK8S_*` names.

use base64::Engine;
use netobserv_pipeline::config::{NetworkTransform, Transform};
use netobserv_pipeline::record::Record;
use netobserv_pipeline::transform::kubernetes::SharedIndex;
use netobserv_pipeline::transform::{self, BuildError, NetworkStage, Transformer};
use pcapng::enrichment::{Endpoint, Enrichment};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Where Kubernetes names come from.
#[derive(Clone, Default)]
pub enum KubeNames {
    /// No enrichment.
    #[default]
    None,
    /// Watch the API server (in-cluster or the default kubeconfig).
    Cluster,
    /// An index filled by the caller (tests, local runs).
    Index(SharedIndex),
}

/// The `network` stage configuration: `add_kubernetes` for both ends, with zones.
pub fn network_config() -> NetworkTransform {
    let side = |ip: &str, out: &str| {
        serde_json::json!({"type": "add_kubernetes",
            "kubernetes": {"add_zone": true, "ipField": ip, "output": out}})
    };
    serde_json::from_value(serde_json::json!({
        "rules": [side("SrcAddr", "SrcK8S"), side("DstAddr", "DstK8S")]
    }))
    .unwrap_or_default()
}

/// `add_subnet_label` on both ends with `subnets` as the groups (`--subnet-label`).
pub fn subnet_config(subnets: &[crate::subnets::SubnetLabel]) -> NetworkTransform {
    serde_json::from_value(serde_json::json!({
        "rules": [
            {"type": "add_subnet_label", "add_subnet_label": {"input": "SrcAddr", "output": "SrcSubnetLabel"}},
            {"type": "add_subnet_label", "add_subnet_label": {"input": "DstAddr", "output": "DstSubnetLabel"}},
        ],
        "subnetLabels": subnets.iter().map(|s| serde_json::json!({"name": s.name, "cidrs": s.cidrs})).collect::<Vec<_>>(),
    }))
    .unwrap_or_default()
}

/// The transforms a flow goes through: enrichment, then the `--query` filter.
pub struct FlowStages {
    stages: Vec<Box<dyn Transformer>>,
}

impl FlowStages {
    /// Builds the stages; a bad query is refused with the pipeline's message.
    pub fn new(
        names: &KubeNames,
        query: Option<&str>,
        subnets: &[crate::subnets::SubnetLabel],
    ) -> Result<Self, BuildError> {
        let mut stages: Vec<Box<dyn Transformer>> = Vec::new();
        if !subnets.is_empty() {
            stages.push(Box::new(NetworkStage::new(subnet_config(subnets))?));
        }
        match names {
            KubeNames::None => {}
            KubeNames::Cluster => stages.push(Box::new(NetworkStage::new(network_config())?)),
            KubeNames::Index(index) => stages.push(Box::new(NetworkStage::with_kube_index(
                network_config(),
                index.clone(),
            )?)),
        }
        if let Some(q) = query {
            let t: Transform = serde_json::from_value(serde_json::json!({
                "type": "filter",
                "filter": {"rules": [{"type": "keep_entry_query", "keepEntryQuery": q}]}
            }))
            .map_err(|e| BuildError::Invalid(format!("--query: {e}")))?;
            stages.push(
                transform::build(&t).map_err(|e| BuildError::Invalid(format!("--query: {e}")))?,
            );
        }
        Ok(Self { stages })
    }

    /// Runs a record through every stage; `None` when the query drops it.
    pub fn apply(&mut self, mut record: Record) -> Option<Record> {
        for s in &mut self.stages {
            record = s.apply(record)?;
        }
        Some(record)
    }
}

/// The record field holding a packet's frame, base64 (what the TUI's "Payload" pane dumps).
pub const DATA_FIELD: &str = "Data";

/// Most address pairs whose comments are remembered before the cache starts over.
const PACKET_CACHE: usize = 65_536;

/// What is known of a packet's two ends: its pcapng comments and the record fields they come
/// from (`SrcK8S_Name`, ...), for the table.
#[derive(Debug, Default)]
pub struct Known {
    /// The pcapng comments.
    pub comments: Vec<String>,
    /// The enrichment fields.
    pub fields: Vec<(String, String)>,
}

/// The enrichment of packets, looked up once per address pair.
pub struct PacketEnricher {
    stage: Option<NetworkStage>,
    cache: HashMap<(IpAddr, IpAddr), Arc<Known>>,
}

impl PacketEnricher {
    /// An enricher reading `names`.
    pub fn new(names: &KubeNames) -> Result<Self, BuildError> {
        let stage = match names {
            KubeNames::None => None,
            KubeNames::Cluster => Some(NetworkStage::new(network_config())?),
            KubeNames::Index(i) => {
                Some(NetworkStage::with_kube_index(network_config(), i.clone())?)
            }
        };
        Ok(Self {
            stage,
            cache: HashMap::new(),
        })
    }

    /// What is known of an Ethernet frame's ends (nothing when it is not IP).
    pub fn known(&mut self, frame: &[u8]) -> Arc<Known> {
        let Some(pair) = addresses(frame) else {
            return Arc::default();
        };
        if let Some(c) = self.cache.get(&pair) {
            return c.clone();
        }
        let known = Arc::new(self.lookup(pair));
        if self.cache.len() >= PACKET_CACHE {
            self.cache.clear();
        }
        self.cache.insert(pair, known.clone());
        known
    }

    fn lookup(&mut self, (src, dst): (IpAddr, IpAddr)) -> Known {
        let Some(stage) = self.stage.as_mut() else {
            return Known::default();
        };
        let mut r = Record::default();
        r.insert("SrcAddr", src.to_string());
        r.insert("DstAddr", dst.to_string());
        let Some(r) = stage.apply(r) else {
            return Known::default();
        };
        let enrichment = Enrichment {
            source: endpoint(&r, "SrcK8S_"),
            destination: endpoint(&r, "DstK8S_"),
            common: Vec::new(),
        };
        Known {
            comments: enrichment.comments(),
            fields: r
                .iter()
                .filter(|(k, _)| k.starts_with("SrcK8S_") || k.starts_with("DstK8S_"))
                .filter_map(|(k, v)| v.as_str().map(|v| (k.to_string(), v.to_string())))
                .collect(),
        }
    }
}

fn endpoint(r: &Record, prefix: &str) -> Endpoint {
    let f = |name: &str| {
        r.get(&format!("{prefix}{name}"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    Endpoint {
        namespace: f("Namespace"),
        name: f("Name"),
        kind: f("Type"),
        owner_name: f("OwnerName"),
        owner_kind: f("OwnerType"),
        host_name: f("HostName"),
        host_ip: f("HostIP"),
        zone: f("Zone"),
    }
}

/// Source and destination of an Ethernet frame carrying IPv4 or IPv6 (one VLAN tag allowed).
pub fn addresses(frame: &[u8]) -> Option<(IpAddr, IpAddr)> {
    let mut off = 12;
    let mut ethertype = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    if ethertype == 0x8100 {
        off += 4;
        ethertype = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    }
    let ip = frame.get(off + 2..)?;
    match ethertype {
        0x0800 => {
            let s: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            Some((IpAddr::from(s), IpAddr::from(d)))
        }
        0x86dd => {
            let s: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            Some((IpAddr::from(s), IpAddr::from(d)))
        }
        _ => None,
    }
}

/// The transport of an Ethernet frame: (protocol, source port, destination port), ports 0
/// when the protocol has none.
pub fn transport(frame: &[u8]) -> Option<(u8, u16, u16)> {
    let mut off = 12;
    let mut ethertype = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    if ethertype == 0x8100 {
        off += 4;
        ethertype = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    }
    let ip = frame.get(off + 2..)?;
    let (proto, l4) = match ethertype {
        0x0800 => (*ip.get(9)?, ip.get(usize::from(ip.first()? & 0x0f) * 4..)?),
        0x86dd => (*ip.get(6)?, ip.get(40..)?),
        _ => return None,
    };
    let ports = match proto {
        6 | 17 | 132 => (
            u16::from_be_bytes([*l4.first()?, *l4.get(1)?]),
            u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]),
        ),
        _ => (0, 0),
    };
    Some((proto, ports.0, ports.1))
}

/// A packet as a record for the table: time, ends, transport, length, interface, enrichment,
/// and the frame itself (`Data`, base64).
pub fn packet_record(
    frame: &[u8],
    time_ns: u64,
    orig_len: u32,
    interface: &str,
    known: &Known,
) -> Record {
    let mut r = Record::default();
    r.insert("TimeFlowEndMs", (time_ns / 1_000_000) as i64);
    if let Some((src, dst)) = addresses(frame) {
        r.insert("SrcAddr", src.to_string());
        r.insert("DstAddr", dst.to_string());
    }
    if let Some((proto, sport, dport)) = transport(frame) {
        r.insert("Proto", i64::from(proto));
        if sport != 0 || dport != 0 {
            r.insert("SrcPort", i64::from(sport));
            r.insert("DstPort", i64::from(dport));
        }
    }
    r.insert("Bytes", i64::from(orig_len));
    r.insert("Packets", 1i64);
    // The frame, base64 as upstream's packet records carry it: the TUI's "Payload" pane.
    r.insert(
        DATA_FIELD,
        base64::engine::general_purpose::STANDARD.encode(frame),
    );
    r.insert(
        "Interfaces",
        netobserv_pipeline::record::Value::List(vec![interface.to_string().into()]),
    );
    for (k, v) in &known.fields {
        r.insert(k.clone(), v.clone());
    }
    r
}
