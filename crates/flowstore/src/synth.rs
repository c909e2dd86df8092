//! Deterministic, cluster-shaped flow records for benchmarks, tests and UI fixtures: pods in a few
//! namespaces on a few nodes talking to each other, to services (with translated endpoints) and
//! to the outside, with DNS, RTT, drops and network-policy events on a share of them.

use serde_json::{Map, Value, json};

/// A small deterministic generator (xorshift64*), so fixtures are the same on every run.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Shape of the generated cluster.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Namespaces.
    pub namespaces: u64,
    /// Workloads per namespace.
    pub workloads: u64,
    /// Pods per workload.
    pub pods: u64,
    /// Nodes.
    pub nodes: u64,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            namespaces: 20,
            workloads: 10,
            pods: 3,
            nodes: 10,
        }
    }
}

struct Pod {
    ns: String,
    owner: String,
    name: String,
    ip: String,
    node: u64,
}

fn pod(shape: &Shape, i: u64) -> Pod {
    let per_ns = shape.workloads * shape.pods;
    let ns = i / per_ns;
    let w = (i % per_ns) / shape.pods;
    let p = i % shape.pods;
    Pod {
        ns: format!("ns-{ns}"),
        owner: format!("app-{ns}-{w}"),
        name: format!("app-{ns}-{w}-{p:05x}"),
        ip: format!(
            "10.{}.{}.{}",
            128 + (i >> 16) % 4,
            (i >> 8) & 0xff,
            i & 0xff
        ),
        node: i % shape.nodes,
    }
}

fn endpoint(rec: &mut Map<String, Value>, side: &str, p: &Pod) {
    rec.insert(format!("{side}Addr"), json!(p.ip));
    rec.insert(format!("{side}K8S_Name"), json!(p.name));
    rec.insert(format!("{side}K8S_Namespace"), json!(p.ns));
    rec.insert(format!("{side}K8S_Type"), json!("Pod"));
    rec.insert(format!("{side}K8S_OwnerName"), json!(p.owner));
    rec.insert(format!("{side}K8S_OwnerType"), json!("Deployment"));
    rec.insert(
        format!("{side}K8S_HostName"),
        json!(format!("node-{}", p.node)),
    );
    rec.insert(
        format!("{side}K8S_HostIP"),
        json!(format!("192.168.0.{}", 10 + p.node)),
    );
    rec.insert(format!("{side}K8S_NetworkName"), json!("primary"));
}

/// `n` records with `TimeFlowEndMs` spread evenly over `[start_ms, start_ms + span_ms)`.
pub fn flows(
    n: u64,
    seed: u64,
    start_ms: i64,
    span_ms: i64,
    shape: Shape,
) -> Vec<Map<String, Value>> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let end = start_ms + (i as i64 * span_ms) / n.max(1) as i64;
            one_flow(&mut rng, &shape, end)
        })
        .collect()
}

/// One flow ending at `end` (ms): from a random pod, to another workload (60 %), a Service
/// (20 %), the cluster DNS (10 %) or the outside (10 %, a third of those dropped by policy).
fn one_flow(rng: &mut Rng, shape: &Shape, end: i64) -> Map<String, Value> {
    let pods = shape.namespaces * shape.workloads * shape.pods;
    let src_index = rng.below(pods);
    let src = pod(shape, src_index);
    let kind = rng.below(10);
    let mut rec = Map::new();
    rec.insert(
        "TimeFlowStartMs".into(),
        json!(end - 1 - rng.below(5000) as i64),
    );
    rec.insert("TimeFlowEndMs".into(), json!(end));
    rec.insert("TimeReceived".into(), json!(end / 1000));
    rec.insert(
        "AgentIP".into(),
        json!(format!("192.168.0.{}", 10 + src.node)),
    );
    rec.insert("Etype".into(), json!(2048));
    rec.insert("SrcMac".into(), json!("0a:58:0a:80:00:01"));
    rec.insert("DstMac".into(), json!("0a:58:0a:80:00:02"));
    rec.insert("Sampling".into(), json!(1));
    rec.insert("Dscp".into(), json!(0));
    rec.insert("Interfaces".into(), json!(["genev_sys_6081", "eth0"]));
    rec.insert("IfDirections".into(), json!([0, 1]));
    endpoint(&mut rec, "Src", &src);
    let udp = rng.below(4) == 0;
    rec.insert("Proto".into(), json!(if udp { 17 } else { 6 }));
    rec.insert("SrcPort".into(), json!(32768 + rng.below(28000)));
    let bytes = 66 + rng.below(1_500_000);
    rec.insert("Bytes".into(), json!(bytes));
    rec.insert("Packets".into(), json!(1 + bytes / 1400));
    match kind {
        0..=5 => to_workload(&mut rec, rng, shape, &src, src_index),
        6 | 7 => to_service(&mut rec, rng, shape, &src),
        8 => to_dns(&mut rec, rng, shape),
        _ => to_outside(&mut rec, rng, &src, bytes),
    }
    if !udp && kind != 8 {
        rec.insert("Flags".into(), json!(["SYN", "ACK"]));
        rec.insert("TimeFlowRttNs".into(), json!(50_000 + rng.below(5_000_000)));
    }
    rec
}

/// Each workload talks to three others (a sparse service graph).
fn to_workload(
    rec: &mut Map<String, Value>,
    rng: &mut Rng,
    shape: &Shape,
    src: &Pod,
    src_index: u64,
) {
    let pods = shape.namespaces * shape.workloads * shape.pods;
    let src_workload = src_index / shape.pods;
    let workloads = pods / shape.pods;
    let dst_workload = (src_workload * 7 + 13 * (1 + rng.below(3))) % workloads;
    let dst = pod(shape, dst_workload * shape.pods + rng.below(shape.pods));
    endpoint(rec, "Dst", &dst);
    rec.insert(
        "DstPort".into(),
        json!([8080, 443, 5432, 6379][rng.below(4) as usize]),
    );
    let dir = if src.node == dst.node {
        2
    } else {
        rng.below(2)
    };
    rec.insert("FlowDirection".into(), json!(dir));
    rec.insert("K8S_FlowLayer".into(), json!("app"));
}

/// To a Service: the translated endpoint is a pod.
fn to_service(rec: &mut Map<String, Value>, rng: &mut Rng, shape: &Shape, src: &Pod) {
    let pods = shape.namespaces * shape.workloads * shape.pods;
    let dst = pod(shape, rng.below(pods));
    let svc_ip = format!(
        "172.30.{}.{}",
        (rng.below(pods) >> 8) & 0xff,
        rng.below(250)
    );
    rec.insert("DstAddr".into(), json!(svc_ip));
    rec.insert("DstPort".into(), json!(80));
    rec.insert("DstK8S_Name".into(), json!(format!("{}-svc", dst.owner)));
    rec.insert("DstK8S_Namespace".into(), json!(dst.ns));
    rec.insert("DstK8S_Type".into(), json!("Service"));
    rec.insert(
        "DstK8S_OwnerName".into(),
        json!(format!("{}-svc", dst.owner)),
    );
    rec.insert("DstK8S_OwnerType".into(), json!("Service"));
    rec.insert("FlowDirection".into(), json!(1));
    rec.insert("K8S_FlowLayer".into(), json!("app"));
    rec.insert("XlatSrcAddr".into(), json!(src.ip));
    rec.insert("XlatSrcPort".into(), rec["SrcPort"].clone());
    rec.insert("XlatDstAddr".into(), json!(dst.ip));
    rec.insert("XlatDstPort".into(), json!(8080));
    rec.insert("ZoneId".into(), json!(1 + rng.below(3)));
    rec.insert("XlatDstK8S_Name".into(), json!(dst.name));
    rec.insert("XlatDstK8S_Namespace".into(), json!(dst.ns));
    rec.insert("XlatDstK8S_Type".into(), json!("Pod"));
}

/// DNS to the cluster resolver.
fn to_dns(rec: &mut Map<String, Value>, rng: &mut Rng, shape: &Shape) {
    rec.insert("Proto".into(), json!(17));
    rec.insert("DstAddr".into(), json!("172.30.0.10"));
    rec.insert("DstPort".into(), json!(53));
    rec.insert("DstK8S_Name".into(), json!("dns-default"));
    rec.insert("DstK8S_Namespace".into(), json!("openshift-dns"));
    rec.insert("DstK8S_Type".into(), json!("Service"));
    rec.insert("DstK8S_OwnerName".into(), json!("dns-default"));
    rec.insert("DstK8S_OwnerType".into(), json!("Service"));
    rec.insert("FlowDirection".into(), json!(1));
    rec.insert("K8S_FlowLayer".into(), json!("infra"));
    rec.insert("DnsId".into(), json!(rng.below(65535)));
    rec.insert("DnsFlags".into(), json!(33152));
    let nx = rng.below(10) == 0;
    rec.insert(
        "DnsFlagsResponseCode".into(),
        json!(if nx { "NXDomain" } else { "NoError" }),
    );
    rec.insert("DnsLatencyMs".into(), json!(1 + rng.below(40)));
    rec.insert(
        "DnsName".into(),
        json!(format!(
            "svc-{}.ns-{}.svc.cluster.local",
            rng.below(50),
            rng.below(shape.namespaces)
        )),
    );
}

/// To the outside, some dropped by a network policy.
fn to_outside(rec: &mut Map<String, Value>, rng: &mut Rng, src: &Pod, bytes: u64) {
    rec.insert(
        "DstAddr".into(),
        json!(format!("203.0.113.{}", rng.below(250))),
    );
    rec.insert("DstPort".into(), json!(443));
    rec.insert("FlowDirection".into(), json!(1));
    rec.insert("K8S_FlowLayer".into(), json!("app"));
    if rng.below(3) == 0 {
        rec.insert("PktDropBytes".into(), json!(bytes / 2));
        rec.insert("PktDropPackets".into(), json!(1 + bytes / 2800));
        rec.insert("PktDropLatestState".into(), json!("TCP_SYN_SENT"));
        rec.insert(
            "PktDropLatestDropCause".into(),
            json!("SKB_DROP_REASON_NETFILTER_DROP"),
        );
        rec.insert("PktDropLatestFlags".into(), json!(2));
        rec.insert(
            "NetworkEvents".into(),
            json!([{
                "Feature": "acl", "Type": "NetworkPolicy", "Namespace": src.ns,
                "Name": "deny-egress", "Action": "drop", "Direction": "Egress"
            }]),
        );
    }
}
