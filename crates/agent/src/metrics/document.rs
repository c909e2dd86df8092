//! The `/status` document: which hooks run and why the others are off, the interfaces hooked,
//! and each feature's state, as the agent serves it.

use serde::Serialize;

/// One row of `/status`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct HookStatus {
    /// Feature or hook name (`FlowCapture`, `PacketDrop`, `DNSTracking`, `FlowRTT`, ...).
    pub hook: String,
    /// Whether it is running.
    pub active: bool,
    /// How it is attached when active (`tcx`, `tc`, `tcx+tc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Why it is off, when it is (or, when active, why the preferred method is not the one used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Full attach method when active (`tp_btf/tcp_probe`, `fentry/tcp_rcv_established`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Other attach methods of this hook that are not in use, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods_off: Vec<MethodOffStatus>,
}

/// An attach method a hook does not use, in `/status`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MethodOffStatus {
    /// Full method (`fentry/tcp_rcv_established`).
    pub method: String,
    /// Short mode (`fentry`), as in the `mode` label of `hook_active`.
    pub mode: String,
    /// Why it is not in use (contains the kernel's load error when it failed).
    pub reason: String,
}

/// The `/status` document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// Hooks and features.
    pub hooks: Vec<HookStatus>,
    /// Interfaces with classifiers attached, and how.
    pub interfaces: Vec<InterfaceStatus>,
    /// NetworkEvents: the OVS sample collector set registration, when the feature is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ovs_sample_collector: Option<OvsCollectorStatus>,
    /// Clock the kernel stamps a flow's later packets with: `coarse` (last timer tick, so
    /// `TimeFlowEnd` may trail the last packet by one tick) or `precise` (kernels before 5.11).
    /// Shown because it decides how exact flow durations are on this node.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub flow_end_clock: String,
    /// The per-CPU flow cache: `on (N slots per CPU)` or `off: why` (kernel too old to flush it,
    /// or `FLOW_CACHE=false`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub flow_cache: String,
    /// Flows lost since start, by reason, with what to raise (filled when `/status` is served,
    /// from the same counters as `dropped_flows_total`).
    pub flows_lost: crate::losses::FlowsLost,
    /// Kernel memory of the eBPF maps, now and as a function of the CPU count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bpf_maps: Option<crate::mapmem::MapMemoryStatus>,
    /// Packet mode (`ENABLE_PCA=true`): its settings and figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_capture: Option<CaptureStatus>,
    /// Packet mode: captured packets lost since start, by reason, with what to raise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets_lost: Option<crate::losses::PacketsLost>,
}

/// Packet mode in `/status`: the settings in force and what went through.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CaptureStatus {
    /// Bytes copied per packet at most (`PCA_SNAPLEN`).
    pub snaplen: u32,
    /// Size of the kernel ring buffer (`PCA_RINGBUF_BYTES`).
    pub ringbuf_bytes: u32,
    /// Packets waiting for the collector at most (`PCA_EXPORT_QUEUE`).
    pub export_queue: usize,
    /// Calls in flight at most (`PCA_EXPORT_IN_FLIGHT`).
    pub export_in_flight: usize,
    /// Packets per `SendBatch` call at most (`PCA_EXPORT_BATCH`; 0: one `Send` per packet).
    pub export_batch: usize,
    /// Whether filter rules select the packets (else every frame is captured).
    pub filtered: bool,
    /// Packets read from the ring since start (filled when `/status` is served).
    pub captured: u64,
    /// Packets the collector accepted since start (filled when `/status` is served).
    pub exported: u64,
}

/// The OVS `Flow_Sample_Collector_Set` registration in `/status`: without it OVS sends OVN's
/// samples nowhere, so an operator looking at an empty NetworkEvents view needs to see why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OvsCollectorStatus {
    /// `registered` (inserted by this agent), `already_registered` (this agent's row was
    /// there), `re_registered` (it vanished and was put back), `error`, `disabled`
    /// (`NETWORK_EVENTS_REGISTER_OVS_COLLECTOR=false`) or `unregistered` (removed at shutdown).
    pub state: String,
    /// Whether the set is in place and this agent's.
    pub registered: bool,
    /// Open vSwitch database socket.
    pub socket: String,
    /// Bridge of the set.
    pub bridge: String,
    /// Collector set id.
    pub set_id: u32,
    /// psample group the set samples into.
    pub local_group_id: u32,
    /// Why it is not registered, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An attached interface in `/status`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InterfaceStatus {
    /// Interface name.
    pub name: String,
    /// `tcx` or `tc`.
    pub mode: String,
    /// Namespace file of a secondary interface (absent for the observed namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
}
