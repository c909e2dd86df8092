//! Kubernetes enrichment in the collector, by the pipeline's own `network` stage
//! (`add_kubernetes` on both ends, zones included): of each flow record, and of each packet
//! through a small record holding its two addresses, so flows and packets carry the same
//! `SrcK8S_*` / `DstK8S_*` names.

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

/// The transforms a flow goes through: enrichment, then the `--query` filter.
pub struct FlowStages {
    stages: Vec<Box<dyn Transformer>>,
}

impl FlowStages {
    /// Builds the stages; a bad query is refused with the pipeline's message.
    pub fn new(names: &KubeNames, query: Option<&str>) -> Result<Self, BuildError> {
        let mut stages: Vec<Box<dyn Transformer>> = Vec::new();
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

/// Most address pairs whose comments are remembered before the cache starts over.
const PACKET_CACHE: usize = 65_536;

/// The comments of packets, looked up once per address pair.
pub struct PacketEnricher {
    stage: Option<NetworkStage>,
    cache: HashMap<(IpAddr, IpAddr), Arc<Vec<String>>>,
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

    /// The comments of an Ethernet frame (none when it is not IP or nothing is known).
    pub fn comments(&mut self, frame: &[u8]) -> Arc<Vec<String>> {
        let Some(pair) = addresses(frame) else {
            return Arc::default();
        };
        if let Some(c) = self.cache.get(&pair) {
            return c.clone();
        }
        let comments = Arc::new(self.lookup(pair).comments());
        if self.cache.len() >= PACKET_CACHE {
            self.cache.clear();
        }
        self.cache.insert(pair, comments.clone());
        comments
    }

    fn lookup(&mut self, (src, dst): (IpAddr, IpAddr)) -> Enrichment {
        let Some(stage) = self.stage.as_mut() else {
            return Enrichment::default();
        };
        let mut r = Record::default();
        r.insert("SrcAddr", src.to_string());
        r.insert("DstAddr", dst.to_string());
        let Some(r) = stage.apply(r) else {
            return Enrichment::default();
        };
        Enrichment {
            source: endpoint(&r, "SrcK8S_"),
            destination: endpoint(&r, "DstK8S_"),
            common: Vec::new(),
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
