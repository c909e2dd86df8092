//! NetworkEvents in user space: merging the hook's per-CPU values, and decoding OVN sample
//! cookies into the human-readable maps of `Record.network_events_metadata`.
//!
//! A cookie is 8 bytes, big-endian `{u32 obs_domain_id; u32 obs_point_id}`. The top byte of the
//! domain id names the OVN "sampling app" (1 drop sampling, 2 ACL new traffic, 3 ACL established
//! traffic); the point id is the `metadata` of an OVN Northbound `Sample` row, which an ACL
//! references from `sample_new` or `sample_est`. OVN-Kubernetes describes what owns each ACL in
//! its `external_ids`, which gives the event's actor, namespace, name and direction.

pub mod collector;
pub(crate) mod keeper;
pub mod kernel;
pub mod ovsdb;

use netobserv_agent_common::netevents::{MAX_NETWORK_EVENTS, NetworkEventsMetrics};
use ovsdb::{OvsdbClient, OvsdbError, string_map, uuid_of};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// OVN sampling app of drop samples.
pub const APP_DROP_SAMPLING: u8 = 1;
/// OVN sampling app of ACL samples on new connections (`ACL.sample_new`).
pub const APP_ACL_NEW: u8 = 2;
/// OVN sampling app of ACL samples on established connections (`ACL.sample_est`).
pub const APP_ACL_EST: u8 = 3;

/// Offset of network-event drop causes (the wire contract's, shared with the pipeline).
pub const DROP_CAUSE_BASE: u32 = pbflow::NETWORK_EVENT_CAUSE_BASE;

/// ACL owners in the index order of the injected drop causes: cause = [`DROP_CAUSE_BASE`] +
/// index (the wire contract's table, shared with the pipeline).
pub const ACTORS: [&str; 9] = pbflow::NETWORK_EVENT_ACTORS;

/// `external_ids` key holding the owner type (the actor) of an OVN-Kubernetes object.
pub const KEY_OWNER_TYPE: &str = "k8s.ovn.org/owner-type";
/// `external_ids` key holding the owner's name (`namespace:name` for network policies).
pub const KEY_NAME: &str = "k8s.ovn.org/name";
/// `external_ids` key holding the policy direction (`Ingress`/`Egress`).
pub const KEY_DIRECTION: &str = "direction";

const NB_DB: &str = "OVN_Northbound";

/// The cookie decoder eviction uses, when NetworkEvents is on.
pub(crate) type NetDecoder = Option<std::sync::Arc<Decoder>>;

/// The two ids packed in a sample cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cookie {
    /// Observation domain; its top byte is the OVN sampling app.
    pub obs_domain_id: u32,
    /// Observation point: `metadata` of the NB `Sample` row.
    pub obs_point_id: u32,
}

impl Cookie {
    /// Reads the big-endian cookie bytes as the kernel copied them.
    pub fn from_bytes(b: [u8; 8]) -> Self {
        Self {
            obs_domain_id: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            obs_point_id: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The bytes of this cookie, as the kernel sees them.
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.obs_domain_id.to_be_bytes());
        b[4..].copy_from_slice(&self.obs_point_id.to_be_bytes());
        b
    }

    /// The OVN sampling app (`obs_domain_id >> 24`).
    pub fn app(self) -> u8 {
        (self.obs_domain_id >> 24) as u8
    }
}

/// An ACL verdict decoded from a cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEvent {
    /// The verdict as the console shows it: `allow` (OVN `allow`, `allow-related`,
    /// `allow-stateless`), `drop` (OVN `drop`, `reject`) or `pass`; any other OVN action as is.
    pub action: String,
    /// OVN-Kubernetes owner type, e.g. `NetworkPolicy` (see [`ACTORS`]).
    pub actor: String,
    /// Policy name, when the actor has one.
    pub name: String,
    /// Namespace, when the actor is namespaced.
    pub namespace: String,
    /// `Ingress` or `Egress`, when known.
    pub direction: String,
}

impl AclEvent {
    /// Builds the event from an ACL's action and `external_ids`, the way OVN-Kubernetes lays
    /// them out per owner type: network policies store `namespace:name`, admin policies a name,
    /// namespace-scoped owners the namespace; egress firewalls are egress, node policies ingress.
    pub fn from_acl(action: &str, ids: &HashMap<String, String>) -> Self {
        let get = |k: &str| ids.get(k).cloned().unwrap_or_default();
        let actor = get(KEY_OWNER_TYPE);
        let verdict = match action {
            "allow" | "allow-related" | "allow-stateless" => "allow",
            "drop" | "reject" => "drop",
            other => other,
        };
        let mut e = AclEvent {
            action: verdict.to_string(),
            actor: actor.clone(),
            name: String::new(),
            namespace: String::new(),
            direction: String::new(),
        };
        match actor.as_str() {
            "NetworkPolicy" => {
                let obj = get(KEY_NAME);
                match obj.split_once(':') {
                    Some((ns, name)) => {
                        e.namespace = ns.to_string();
                        e.name = name.to_string();
                    }
                    None => e.name = obj,
                }
                e.direction = get(KEY_DIRECTION);
            }
            "AdminNetworkPolicy" | "BaselineAdminNetworkPolicy" => {
                e.name = get(KEY_NAME);
                e.direction = get(KEY_DIRECTION);
            }
            "MulticastNS" | "NetpolNamespace" => {
                e.namespace = get(KEY_NAME);
                e.direction = get(KEY_DIRECTION);
            }
            "MulticastCluster" => e.direction = get(KEY_DIRECTION),
            "EgressFirewall" => {
                e.namespace = get(KEY_NAME);
                e.direction = "Egress".into();
            }
            "UDNIsolation" => e.name = get(KEY_NAME),
            "NetpolNode" => e.direction = "Ingress".into(),
            _ => {}
        }
        e
    }

    /// The `network_events_metadata` map: `Feature`, `Type`, `Namespace`, `Name`, `Action`,
    /// `Direction` (empty values omitted, as the console expects only what is known).
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        m.insert("Feature".to_string(), "acl".to_string());
        for (k, v) in [
            ("Type", &self.actor),
            ("Namespace", &self.namespace),
            ("Name", &self.name),
            ("Action", &self.action),
            ("Direction", &self.direction),
        ] {
            if !v.is_empty() {
                m.insert(k.to_string(), v.clone());
            }
        }
        m
    }

    /// The injected drop cause of a `drop` ACL: [`DROP_CAUSE_BASE`] + index of the actor.
    pub fn drop_cause(&self) -> Option<u32> {
        if self.action != "drop" {
            return None;
        }
        ACTORS
            .iter()
            .position(|a| *a == self.actor)
            .map(|i| DROP_CAUSE_BASE + i as u32)
    }
}

/// What a cookie decodes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// An ACL verdict.
    Acl(AclEvent),
    /// Not decodable (unknown app, no such sample or ACL, database unreachable): a message.
    Message(String),
}

impl Decoded {
    /// The map exported in `network_events_metadata`.
    pub fn to_map(&self) -> HashMap<String, String> {
        match self {
            Decoded::Acl(a) => a.to_map(),
            Decoded::Message(m) => HashMap::from([("Message".to_string(), m.clone())]),
        }
    }
}

/// Network events of one flow, merged over CPUs: distinct cookies (at most 4) with their summed
/// counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkEventsTotals {
    /// First sample (monotonic ns).
    pub start: u64,
    /// Latest sample (monotonic ns).
    pub end: u64,
    /// EtherType of the flow.
    pub eth_protocol: u16,
    /// (cookie, packets, bytes), in order of first appearance.
    pub events: Vec<([u8; 8], u64, u64)>,
}

impl NetworkEventsTotals {
    /// Merges the per-CPU values of one flow: union of the distinct non-zero cookies (the first
    /// [`MAX_NETWORK_EVENTS`] kept), counters summed, earliest start and latest end. `None` when
    /// no CPU holds a cookie.
    pub fn merge(values: &[NetworkEventsMetrics]) -> Option<Self> {
        let mut t = NetworkEventsTotals::default();
        for v in values {
            if v.start_mono_time_ts == 0 && v.network_events.iter().all(|c| *c == [0; 8]) {
                continue;
            }
            if t.start == 0 || (v.start_mono_time_ts != 0 && v.start_mono_time_ts < t.start) {
                t.start = v.start_mono_time_ts;
            }
            t.end = t.end.max(v.end_mono_time_ts);
            if v.eth_protocol != 0 {
                t.eth_protocol = v.eth_protocol;
            }
            for i in 0..MAX_NETWORK_EVENTS {
                let c = v.network_events[i];
                if c == [0; 8] {
                    continue;
                }
                let (p, b) = (u64::from(v.packets[i]), u64::from(v.bytes[i]));
                if let Some(e) = t.events.iter_mut().find(|e| e.0 == c) {
                    e.1 += p;
                    e.2 += b;
                } else if t.events.len() < MAX_NETWORK_EVENTS {
                    t.events.push((c, p, b));
                }
            }
        }
        (!t.events.is_empty()).then_some(t)
    }
}

/// A flow's decoded events, ready for the record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedEvents {
    /// One map per cookie, in slot order.
    pub maps: Vec<HashMap<String, String>>,
    /// Injected drop: (cause of the latest drop ACL, packets, bytes) summed over drop ACLs.
    pub drop: Option<(u32, u64, u64)>,
    /// First sample (monotonic ns), for flows only the hook saw.
    pub start: u64,
    /// Latest sample (monotonic ns).
    pub end: u64,
    /// EtherType.
    pub eth_protocol: u16,
}

/// Where and how the decoder looks cookies up.
#[derive(Debug, Clone)]
pub struct DecoderConfig {
    /// Unix socket of the OVN Northbound database (`/var/run/ovn/ovnnb_db.sock` by default).
    pub nb_socket: PathBuf,
    /// How long a decoded cookie is reused before it is looked up again.
    pub ttl: Duration,
    /// Most cookies kept in the cache.
    pub max_entries: usize,
    /// Deadline of one OVSDB request.
    pub timeout: Duration,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self {
            nb_socket: PathBuf::from("/var/run/ovn/ovnnb_db.sock"),
            ttl: Duration::from_secs(300),
            max_entries: 4096,
            timeout: Duration::from_secs(2),
        }
    }
}

/// After a transport failure, the database is not asked again for this long (evictions keep
/// coming every few seconds; a missing socket must not cost a connect per cookie each time).
const UNREACHABLE_BACKOFF: Duration = Duration::from_secs(5);

/// Cookie decoder with a bounded, TTL'd cache in front of the OVSDB client.
pub struct Decoder {
    cfg: DecoderConfig,
    client: tokio::sync::Mutex<OvsdbClient>,
    cache: std::sync::Mutex<HashMap<[u8; 8], (Instant, Decoded)>>,
    down_until: std::sync::Mutex<Option<(Instant, String)>>,
}

impl Decoder {
    /// A decoder for the database at `cfg.nb_socket` (connected on first use).
    pub fn new(cfg: DecoderConfig) -> Self {
        Self {
            client: tokio::sync::Mutex::new(OvsdbClient::new(&cfg.nb_socket, cfg.timeout)),
            cfg,
            cache: std::sync::Mutex::new(HashMap::new()),
            down_until: std::sync::Mutex::new(None),
        }
    }

    /// How many cookies are cached (metrics, tests).
    pub fn cached(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Decodes one cookie: cache first, then the database. Never fails: what cannot be
    /// resolved becomes [`Decoded::Message`].
    pub async fn decode(&self, cookie: [u8; 8]) -> Decoded {
        let now = Instant::now();
        if let Some((at, d)) = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&cookie)
            && now.duration_since(*at) < self.cfg.ttl
        {
            return d.clone();
        }
        let c = Cookie::from_bytes(cookie);
        if !matches!(c.app(), APP_ACL_NEW | APP_ACL_EST) {
            let what = if c.app() == APP_DROP_SAMPLING {
                "OVN drop sampling".to_string()
            } else {
                format!("unknown OVN sampling app {}", c.app())
            };
            let d = Decoded::Message(format!(
                "{what} (observation domain {}, point {})",
                c.obs_domain_id, c.obs_point_id
            ));
            self.remember(cookie, d.clone());
            return d;
        }
        if let Some((until, why)) = self
            .down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            && now < until
        {
            return Decoded::Message(unresolved(c, &why));
        }
        match self.lookup(c).await {
            Ok(d) => {
                self.remember(cookie, d.clone());
                d
            }
            Err(OvsdbError::Server(e)) => {
                // The database answered: the answer is not going to change by asking again now.
                let d = Decoded::Message(unresolved(c, &e));
                self.remember(cookie, d.clone());
                d
            }
            Err(e) => {
                let why = e.to_string();
                tracing::warn!(error = %why, "NetworkEvents: OVN Northbound database unreachable");
                *self
                    .down_until
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((Instant::now() + UNREACHABLE_BACKOFF, why.clone()));
                Decoded::Message(unresolved(c, &why))
            }
        }
    }

    /// Decodes every cookie of a flow and derives the injected drop.
    pub async fn decode_flow(&self, t: &NetworkEventsTotals) -> DecodedEvents {
        let mut out = DecodedEvents {
            start: t.start,
            end: t.end,
            eth_protocol: t.eth_protocol,
            ..DecodedEvents::default()
        };
        for (cookie, packets, bytes) in &t.events {
            let d = self.decode(*cookie).await;
            if let Decoded::Acl(a) = &d
                && let Some(cause) = a.drop_cause()
            {
                let (_, p, b) = out.drop.unwrap_or((cause, 0, 0));
                out.drop = Some((cause, p + packets, b + bytes));
            }
            out.maps.push(d.to_map());
        }
        out
    }

    fn remember(&self, cookie: [u8; 8], d: Decoded) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= self.cfg.max_entries && !cache.contains_key(&cookie) {
            let now = Instant::now();
            let ttl = self.cfg.ttl;
            cache.retain(|_, (at, _)| now.duration_since(*at) < ttl);
            if cache.len() >= self.cfg.max_entries
                && let Some(oldest) = cache.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| *k)
            {
                cache.remove(&oldest);
            }
        }
        if self.cfg.max_entries > 0 {
            cache.insert(cookie, (Instant::now(), d));
        }
    }

    /// Sample (by `metadata`) → ACL (by `sample_new`/`sample_est`) → event.
    async fn lookup(&self, c: Cookie) -> Result<Decoded, OvsdbError> {
        let mut client = self.client.lock().await;
        let samples = client
            .select(
                NB_DB,
                "Sample",
                vec![json!(["metadata", "==", c.obs_point_id])],
                &["_uuid"],
            )
            .await?;
        let Some(sample) = samples
            .first()
            .and_then(|r| r.get("_uuid"))
            .and_then(uuid_of)
        else {
            return Ok(Decoded::Message(unresolved(
                c,
                "no Sample row with this metadata",
            )));
        };
        let column = if c.app() == APP_ACL_NEW {
            "sample_new"
        } else {
            "sample_est"
        };
        let acls = client
            .select(
                NB_DB,
                "ACL",
                vec![json!([column, "==", ["uuid", sample]])],
                &["action", "external_ids"],
            )
            .await?;
        match acls.as_slice() {
            [acl] => {
                let action = acl.get("action").and_then(|v| v.as_str()).unwrap_or("");
                let ids = acl.get("external_ids").map(string_map).unwrap_or_default();
                Ok(Decoded::Acl(AclEvent::from_acl(action, &ids)))
            }
            other => Ok(Decoded::Message(unresolved(
                c,
                &format!(
                    "expected 1 ACL with {column} = this sample, found {}",
                    other.len()
                ),
            ))),
        }
    }
}

fn unresolved(c: Cookie, why: &str) -> String {
    format!(
        "unresolved OVN sample (observation domain {}, point {}): {why}",
        c.obs_domain_id, c.obs_point_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cookie_is_big_endian_domain_then_point() {
        let c = Cookie::from_bytes([0x02, 0, 0, 0x05, 0, 0, 0x01, 0x00]);
        assert_eq!(c.obs_domain_id, 0x0200_0005);
        assert_eq!(c.obs_point_id, 256);
        assert_eq!(c.app(), APP_ACL_NEW);
        assert_eq!(Cookie::from_bytes(c.to_bytes()), c);
    }

    #[test]
    fn network_policy_drop_maps_and_injects_a_drop() {
        let e = AclEvent::from_acl(
            "drop",
            &ids(&[
                (KEY_OWNER_TYPE, "NetworkPolicy"),
                (KEY_NAME, "prod:deny-all"),
                (KEY_DIRECTION, "Ingress"),
            ]),
        );
        let m = e.to_map();
        assert_eq!(m["Feature"], "acl");
        assert_eq!(m["Type"], "NetworkPolicy");
        assert_eq!(m["Namespace"], "prod");
        assert_eq!(m["Name"], "deny-all");
        assert_eq!(m["Action"], "drop");
        assert_eq!(m["Direction"], "Ingress");
        assert_eq!(e.drop_cause(), Some(DROP_CAUSE_BASE));
    }

    #[test]
    fn actor_specific_fields() {
        let ef = AclEvent::from_acl(
            "allow",
            &ids(&[(KEY_OWNER_TYPE, "EgressFirewall"), (KEY_NAME, "ns1")]),
        );
        assert_eq!(
            (ef.namespace.as_str(), ef.direction.as_str()),
            ("ns1", "Egress")
        );
        assert_eq!(ef.drop_cause(), None);
        let node = AclEvent::from_acl("allow-related", &ids(&[(KEY_OWNER_TYPE, "NetpolNode")]));
        assert_eq!(node.direction, "Ingress");
        assert_eq!(node.action, "allow");
        let reject = AclEvent::from_acl("reject", &ids(&[(KEY_OWNER_TYPE, "NetworkPolicy")]));
        assert_eq!(reject.action, "drop");
        assert_eq!(reject.drop_cause(), Some(DROP_CAUSE_BASE));
        let banp = AclEvent::from_acl(
            "drop",
            &ids(&[
                (KEY_OWNER_TYPE, "BaselineAdminNetworkPolicy"),
                (KEY_NAME, "default"),
                (KEY_DIRECTION, "Egress"),
            ]),
        );
        assert_eq!(banp.drop_cause(), Some(DROP_CAUSE_BASE + 2));
        assert!(!banp.to_map().contains_key("Namespace"));
    }

    #[test]
    fn per_cpu_values_merge_into_distinct_cookies() {
        let a = [2, 0, 0, 0, 0, 0, 0, 1];
        let b = [3, 0, 0, 0, 0, 0, 0, 2];
        let cpu0 = NetworkEventsMetrics {
            start_mono_time_ts: 20,
            end_mono_time_ts: 30,
            network_events: [a, b, [0; 8], [0; 8]],
            packets: [2, 1, 0, 0],
            bytes: [200, 100, 0, 0],
            eth_protocol: 0x0800,
            network_events_idx: 2,
            ..Default::default()
        };
        let cpu1 = NetworkEventsMetrics {
            start_mono_time_ts: 10,
            end_mono_time_ts: 25,
            network_events: [b, [0; 8], [0; 8], [0; 8]],
            packets: [3, 0, 0, 0],
            bytes: [300, 0, 0, 0],
            eth_protocol: 0x0800,
            network_events_idx: 1,
            ..Default::default()
        };
        let t = NetworkEventsTotals::merge(&[cpu0, NetworkEventsMetrics::default(), cpu1])
            .expect("events");
        assert_eq!((t.start, t.end), (10, 30));
        assert_eq!(t.events, vec![(a, 2, 200), (b, 4, 400)]);
        assert!(NetworkEventsTotals::merge(&[NetworkEventsMetrics::default()]).is_none());
    }

    #[tokio::test]
    async fn unreachable_database_yields_messages_not_errors() {
        let d = Decoder::new(DecoderConfig {
            nb_socket: "/nonexistent/ovnnb_db.sock".into(),
            ..DecoderConfig::default()
        });
        let acl = Cookie {
            obs_domain_id: 0x0200_0001,
            obs_point_id: 7,
        };
        match d.decode(acl.to_bytes()).await {
            Decoded::Message(m) => assert!(m.contains("/nonexistent/ovnnb_db.sock"), "{m}"),
            other => panic!("{other:?}"),
        }
        let drop_sampling = Cookie {
            obs_domain_id: 0x0100_0000,
            obs_point_id: 1,
        };
        match d.decode(drop_sampling.to_bytes()).await {
            Decoded::Message(m) => assert!(m.contains("drop sampling"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
