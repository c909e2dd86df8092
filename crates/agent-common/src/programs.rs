//! Names of the programs in the eBPF object.

/// Legacy TC (clsact) ingress classifier.
pub const TC_INGRESS: &str = "tc_ingress_flow_parse";
/// Legacy TC (clsact) egress classifier.
pub const TC_EGRESS: &str = "tc_egress_flow_parse";
/// TCX ingress program (returns `TCX_NEXT`).
pub const TCX_INGRESS: &str = "tcx_ingress_flow_parse";
/// TCX egress program (returns `TCX_NEXT`).
pub const TCX_EGRESS: &str = "tcx_egress_flow_parse";
/// FlowRTT on `tp_btf/tcp_probe` (the fallback when fentry is refused, e.g. under lockdown).
pub const TCP_PROBE_RTT: &str = "tcp_probe_rtt";
/// The same with probe reads of the socket, for verifiers that refuse direct BTF loads.
pub const TCP_PROBE_RTT_COMPAT: &str = "tcp_probe_rtt_compat";
/// FlowRTT on `fentry/tcp_rcv_established` (preferred when the kernel allows it).
pub const TCP_RCV_FENTRY_RTT: &str = "tcp_rcv_fentry_rtt";
/// PacketDrop on `tp_btf/kfree_skb`, reading `sk_buff` fields with direct BTF loads.
pub const KFREE_SKB_DROP: &str = "kfree_skb_drop";
/// The same hook reading them with `bpf_probe_read_kernel`, for verifiers that refuse the
/// direct loads.
pub const KFREE_SKB_DROP_COMPAT: &str = "kfree_skb_drop_compat";
/// PacketTranslation on `kprobe/nf_nat_manip_pkt` (upstream's method).
pub const NAT_MANIP_KPROBE: &str = "track_nat_manip_pkt";
/// PacketTranslation on `fentry/nf_nat_manip_pkt` (preferred when allowed).
pub const NAT_MANIP_FENTRY: &str = "nf_nat_manip_pkt_fentry";
/// IPsec on `fentry/xfrm_input` (preferred when allowed).
pub const XFRM_INPUT_FENTRY: &str = "xfrm_input_fentry";
/// IPsec on `fexit/xfrm_input`.
pub const XFRM_INPUT_FEXIT: &str = "xfrm_input_fexit";
/// IPsec on `fentry/xfrm_output`.
pub const XFRM_OUTPUT_FENTRY: &str = "xfrm_output_fentry";
/// IPsec on `fexit/xfrm_output`.
pub const XFRM_OUTPUT_FEXIT: &str = "xfrm_output_fexit";
/// IPsec on `kprobe/xfrm_input` (upstream's method).
pub const XFRM_INPUT_KPROBE: &str = "xfrm_input_kprobe";
/// IPsec on `kretprobe/xfrm_input`.
pub const XFRM_INPUT_KRETPROBE: &str = "xfrm_input_kretprobe";
/// IPsec on `kprobe/xfrm_output`.
pub const XFRM_OUTPUT_KPROBE: &str = "xfrm_output_kprobe";
/// IPsec on `kretprobe/xfrm_output`.
pub const XFRM_OUTPUT_KRETPROBE: &str = "xfrm_output_kretprobe";
/// Flush of the per-CPU flow cache: a raw tracepoint program never attached, run by user
/// space on each CPU with `BPF_PROG_TEST_RUN` (`BPF_F_TEST_RUN_ON_CPU`).
pub const FLUSH_FLOW_CACHE: &str = "flush_flow_cache";
