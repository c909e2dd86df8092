//! QUIC tracking inline in the TC path (`QUIC_TRACKING_MODE`): UDP datagrams (to or from port
//! 443, or any port in mode 2) whose first byte has the QUIC fixed bit are recorded per flow in
//! the shared `quic_flows` map: the version of long-header packets (after a sanity check of the
//! connection id lengths) and whether long and short headers were seen.

use crate::base::count;
use crate::parse::Parsed;
use aya_ebpf::{
    Global, bindings::BPF_F_NO_PREALLOC, helpers::bpf_ktime_get_ns, macros::map, maps::HashMap,
    programs::TcContext,
};
use netobserv_agent_common::{FlowId, QuicMetrics, counters};

/// 0 off, 1 UDP port 443 only, 2 any UDP port.
#[unsafe(no_mangle)]
pub(crate) static QUIC_TRACKING_MODE: Global<u8> = Global::new(0);

/// QUIC facts per flow, shared by every CPU, drained at eviction; allocated on demand.
#[map(name = "quic_flows")]
pub(crate) static QUIC_FLOWS: HashMap<FlowId, QuicMetrics> =
    HashMap::with_max_entries(65536, BPF_F_NO_PREALLOC);

const UDP: u8 = 17;
/// Longest connection id QUIC v1 allows.
const MAX_CID_LEN: u8 = 20;

/// Records what the datagram's first bytes say about QUIC.
#[inline(always)]
pub(crate) fn track_quic(ctx: &TcContext, id: &FlowId, p: &Parsed, mode: u8) {
    if id.transport_protocol != UDP || p.payload == 0 {
        return;
    }
    if mode == 1 && id.src_port != 443 && id.dst_port != 443 {
        return;
    }
    // The smallest QUIC packet upstream considers: 21 bytes of payload.
    let Some(h) = ctx.load::<[u8; 21]>(p.payload).ok() else {
        return;
    };
    if h[0] & 0x40 == 0 {
        return;
    }
    let long = h[0] & 0x80 != 0;
    let mut version = 0;
    if long {
        let dcid = h[5];
        if dcid > MAX_CID_LEN {
            return;
        }
        let Some(scid) = ctx.load::<u8>(p.payload + 6 + usize::from(dcid)).ok() else {
            return;
        };
        if scid > MAX_CID_LEN {
            return;
        }
        version = u32::from_be_bytes([h[1], h[2], h[3], h[4]]);
    }
    // SAFETY: helper without preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if let Some(m) = QUIC_FLOWS.get_ptr_mut(id) {
        // SAFETY: value of a successful lookup, valid for this run.
        let m = unsafe { &mut *m };
        if long {
            m.version = version;
            m.seen_long_hdr = 1;
            m.end_mono_time_ts = now;
        } else if m.seen_short_hdr == 0 {
            // Short headers are most of a connection: written once, not per packet.
            m.seen_short_hdr = 1;
        }
        return;
    }
    let m = QuicMetrics {
        start_mono_time_ts: now,
        end_mono_time_ts: now,
        version,
        eth_protocol: p.eth_protocol,
        seen_long_hdr: u8::from(long),
        seen_short_hdr: u8::from(!long),
    };
    if QUIC_FLOWS.insert(id, &m, 0).is_err() {
        count(counters::HASHMAP_FAIL_UPDATE_QUIC);
    }
}
