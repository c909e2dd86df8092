//! TLS tracking inline in the TC path (`ENABLE_TLS_TRACKING`): for TCP segments with ACK and a
//! payload, the TLS records at the start of the payload are read (record types, and from the
//! hellos the version, the server's cipher suite and key share group) into the shared
//! `aggregated_flows_tls` map, drained at eviction like the DNS map.
//!
//! Offsets inside a handshake depend on the packet (session id, cipher list, extension
//! lengths), so everything past the TCP header is read with `bpf_skb_load_bytes`, which checks
//! bounds at run time: the verifier needs no proof of variable packet offsets, and a hello cut by
//! the end of the segment just stops the walk.

use crate::base::count;
use crate::parse::Parsed;
use aya_ebpf::{
    Global, bindings::BPF_F_NO_PREALLOC, helpers::bpf_ktime_get_ns, macros::map, maps::HashMap,
    programs::TcContext,
};
use netobserv_agent_common::{FlowId, TlsMetrics, counters, tcp_flags, tls_types};

/// 1 when TLS tracking is on.
#[unsafe(no_mangle)]
pub(crate) static ENABLE_TLS_TRACKING: Global<u8> = Global::new(0);

/// TLS facts per flow, shared by every CPU (written by TLS packets only), drained at eviction.
/// Allocated on demand: kernel memory follows the number of TLS flows.
#[map(name = "aggregated_flows_tls")]
pub(crate) static AGGREGATED_FLOWS_TLS: HashMap<FlowId, TlsMetrics> =
    HashMap::with_max_entries(65536, BPF_F_NO_PREALLOC);

/// Records read per segment (a server's flight packs several: hello, certificate, key exchange).
const MAX_RECORDS: usize = 4;
/// Extensions walked per hello (upstream's bound).
const MAX_EXTENSIONS: usize = 30;
/// Versions read from a ClientHello's `supported_versions`.
const MAX_CLIENT_VERSIONS: usize = 8;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
const EXT_KEY_SHARE: u16 = 0x0033;
const TCP: u8 = 6;

/// What one segment said.
#[derive(Default)]
struct Seen {
    types: u32,
    version: u16,
    cipher: u16,
    group: u16,
}

#[inline(always)]
fn skb<T: Copy>(ctx: &TcContext, off: usize) -> Option<T> {
    ctx.load::<T>(off).ok()
}

#[inline(always)]
fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

/// SSL 3.0 to TLS 1.3: what a version field may hold (GREASE values and garbage are not).
#[inline(always)]
fn known_version(v: u16) -> bool {
    (0x0300..=0x0304).contains(&v)
}

/// Reads the TLS records at the start of the segment's payload and merges what they say into
/// the flow's TLS entry.
#[inline(always)]
pub(crate) fn track_tls(ctx: &TcContext, id: &FlowId, p: &Parsed) {
    if id.transport_protocol != TCP || p.payload < 2 || p.flags & tcp_flags::ACK == 0 {
        return;
    }
    let mut seen = Seen::default();
    // For TCP the parser points past the 2-byte length of DNS over TCP: the segment's payload
    // starts 2 bytes earlier.
    let mut off = p.payload - 2;
    // The hellos open their segment: only the first record is parsed in depth, the others
    // (a server's certificate, key exchange...) by type, which keeps the verifier's walk short.
    for i in 0..MAX_RECORDS {
        let Some(hdr) = skb::<[u8; 5]>(ctx, off) else {
            break;
        };
        let record_version = be16([hdr[1], hdr[2]]);
        if !(0x0300..=0x0303).contains(&record_version) {
            break;
        }
        match hdr[0] {
            0x14 => seen.types |= tls_types::CHANGE_CIPHER,
            0x15 => seen.types |= tls_types::ALERT,
            0x17 => seen.types |= tls_types::APPLICATION_DATA,
            0x16 => handshake(ctx, off + 5, i == 0, &mut seen),
            _ => break,
        }
        off += 5 + usize::from(be16([hdr[3], hdr[4]]));
    }
    if seen.types != 0 {
        merge(id, p.eth_protocol, &seen);
    }
}

/// One handshake message: its type bit, and (`first` record only) the hellos' contents.
#[inline(always)]
fn handshake(ctx: &TcContext, off: usize, first: bool, seen: &mut Seen) {
    let Some(h) = skb::<[u8; 4]>(ctx, off) else {
        return;
    };
    match h[0] {
        1 => {
            seen.types |= tls_types::CLIENT_HELLO;
            if first {
                hello(ctx, off + 4, true, seen);
            }
        }
        2 => {
            seen.types |= tls_types::SERVER_HELLO;
            if first {
                hello(ctx, off + 4, false, seen);
            }
        }
        0x0c => {
            seen.types |= tls_types::OTHER_HANDSHAKE;
            // ServerKeyExchange (TLS 1.2): ECDHE with a named curve gives the group.
            if let Some(k) = skb::<[u8; 3]>(ctx, off + 4)
                && k[0] == 3
            {
                seen.group = be16([k[1], k[2]]);
            }
        }
        0x0b | 0x0e | 0x10 => seen.types |= tls_types::OTHER_HANDSHAKE,
        _ => {}
    }
}

/// A ClientHello or ServerHello body at `off`: version, then (server) cipher suite, then the
/// extensions for `supported_versions` and (server) `key_share`.
#[inline(always)]
fn hello(ctx: &TcContext, off: usize, client: bool, seen: &mut Seen) {
    let Some(v) = skb::<[u8; 2]>(ctx, off) else {
        return;
    };
    if known_version(be16(v)) {
        seen.version = be16(v);
    }
    // Version (2) and random (32), then the session id.
    let mut o = off + 34;
    let Some(sid) = skb::<u8>(ctx, o) else {
        return;
    };
    o += 1 + usize::from(sid);
    if client {
        let Some(suites) = skb::<[u8; 2]>(ctx, o) else {
            return;
        };
        o += 2 + usize::from(be16(suites));
        let Some(methods) = skb::<u8>(ctx, o) else {
            return;
        };
        o += 1 + usize::from(methods);
    } else {
        let Some(cipher) = skb::<[u8; 2]>(ctx, o) else {
            return;
        };
        seen.cipher = be16(cipher);
        // Cipher suite (2) and compression method (1).
        o += 3;
    }
    let Some(total) = skb::<[u8; 2]>(ctx, o) else {
        return;
    };
    o += 2;
    let end = o + usize::from(be16(total));
    for _ in 0..MAX_EXTENSIONS {
        if o + 4 > end {
            break;
        }
        let Some(e) = skb::<[u8; 4]>(ctx, o) else {
            break;
        };
        let data = o + 4;
        match be16([e[0], e[1]]) {
            EXT_SUPPORTED_VERSIONS if client => client_versions(ctx, data, seen),
            EXT_SUPPORTED_VERSIONS => {
                if let Some(v) = skb::<[u8; 2]>(ctx, data)
                    && known_version(be16(v))
                {
                    seen.version = be16(v);
                }
            }
            EXT_KEY_SHARE if !client => {
                if let Some(g) = skb::<[u8; 2]>(ctx, data) {
                    seen.group = be16(g);
                }
            }
            _ => {}
        }
        o = data + usize::from(be16([e[2], e[3]]));
    }
}

/// The highest known version a client offers (GREASE values skipped), from one read of the
/// list's first [`MAX_CLIENT_VERSIONS`] entries (a loop of reads would multiply the verifier's
/// paths by the extension walk's).
#[inline(always)]
fn client_versions(ctx: &TcContext, data: usize, seen: &mut Seen) {
    let list: [u8; 1 + 2 * MAX_CLIENT_VERSIONS] = match skb(ctx, data) {
        Some(l) => l,
        // A list at the very end of the segment: its first entry.
        None => match skb::<[u8; 3]>(ctx, data) {
            Some(l) => {
                let mut full = [0u8; 1 + 2 * MAX_CLIENT_VERSIONS];
                full[0] = l[0];
                full[1] = l[1];
                full[2] = l[2];
                full
            }
            None => return,
        },
    };
    let n = usize::from(list[0]) / 2;
    let mut best = 0u16;
    let mut i = 0;
    while i < MAX_CLIENT_VERSIONS {
        let v = be16([list[1 + 2 * i], list[2 + 2 * i]]);
        if i < n && known_version(v) && v > best {
            best = v;
        }
        i += 1;
    }
    if best != 0 {
        seen.version = best;
    }
}

/// Merges one segment's facts into the flow's entry (created on first sight). Plain stores: a
/// flow's segments are handled by one CPU at a time in practice, and the worst a race does is
/// lose one type bit until the flow's next record of that type.
#[inline(always)]
fn merge(id: &FlowId, eth_protocol: u16, seen: &Seen) {
    // SAFETY: helper without preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if let Some(m) = AGGREGATED_FLOWS_TLS.get_ptr_mut(id) {
        // SAFETY: value of a successful lookup, valid for this run.
        let m = unsafe { &mut *m };
        m.tls_types |= seen.types;
        m.end_mono_time_ts = now;
        if seen.version != 0 {
            if m.ssl_version != 0 && m.ssl_version != seen.version {
                m.mismatch = 1;
            }
            m.ssl_version = seen.version;
        }
        if seen.cipher != 0 {
            m.cipher_suite = seen.cipher;
        }
        if seen.group != 0 {
            m.key_share = seen.group;
        }
        return;
    }
    let m = TlsMetrics {
        start_mono_time_ts: now,
        end_mono_time_ts: now,
        tls_types: seen.types,
        ssl_version: seen.version,
        cipher_suite: seen.cipher,
        key_share: seen.group,
        eth_protocol,
        mismatch: 0,
        pad: [0; 3],
    };
    if AGGREGATED_FLOWS_TLS.insert(id, &m, 0).is_err() {
        count(counters::HASHMAP_FAIL_UPDATE_TLS);
    }
}
