//! Conversation tracking (the `extract_conntrack` stage), when `logTypes` asks for
//! conversations: how flows are grouped into connections and which fields are aggregated.

use crate::render::Inputs;
use netobserv_api::v1beta2::{AgentFeature, FlpLogTypes};
use netobserv_flp_config as flp;

/// Conversation tracking, when `logTypes` asks for conversations.
pub(super) fn conntrack(inputs: &Inputs<'_>) -> flp::ConntrackConfig {
    use flp::{ConnectionOperation as Op, ConnectionRecordType as T};
    let spec = inputs.spec();
    let flp_spec = &spec.processor;
    let advanced = flp_spec.advanced.clone().unwrap_or_default();
    let output_record_types = match flp_spec.log_types {
        FlpLogTypes::Flows => vec![T::FlowLog],
        FlpLogTypes::Conversations => vec![T::NewConnection, T::Heartbeat, T::EndConnection],
        FlpLogTypes::EndedConversations => vec![T::EndConnection],
        FlpLogTypes::All => vec![T::NewConnection, T::Heartbeat, T::EndConnection, T::FlowLog],
    };
    let field = |name: &str, operation: Op, split_ab: bool, input: &str| flp::OutputField {
        name: name.to_string(),
        operation,
        split_ab,
        input: input.to_string(),
        report_missing: false,
    };
    let mut fields = vec![
        field("Bytes", Op::Sum, true, ""),
        field("Packets", Op::Sum, true, ""),
        field("numFlowLogs", Op::Count, false, ""),
        field("TimeFlowStartMs", Op::Min, false, "TimeFlowStartMs"),
        flp::OutputField {
            report_missing: true,
            ..field("TimeFlowEndMs", Op::Max, false, "TimeFlowEndMs")
        },
        field("FlowDirection", Op::First, false, "FlowDirection"),
        field("IfDirection", Op::First, false, "IfDirection"),
        field("AgentIP", Op::First, false, "AgentIP"),
    ];
    if spec.has_feature(AgentFeature::PacketDrop) {
        fields.extend([
            field("PktDropBytes", Op::Sum, true, ""),
            field("PktDropPackets", Op::Sum, true, ""),
            field("PktDropLatestState", Op::Last, false, ""),
            field("PktDropLatestDropCause", Op::Last, false, ""),
        ]);
    }
    if spec.has_feature(AgentFeature::DnsTracking) {
        fields.extend([
            field("DnsFlagsResponseCode", Op::Last, false, ""),
            field("DnsLatencyMs", Op::Max, false, ""),
        ]);
    }
    if spec.has_feature(AgentFeature::NetworkEvents) {
        fields.push(field("NetworkEvents", Op::Last, false, ""));
    }
    if spec.has_feature(AgentFeature::FlowRtt) {
        fields.push(field("MaxTimeFlowRttNs", Op::Max, false, "TimeFlowRttNs"));
    }
    let group = |name: &str, fields: &[&str]| flp::FieldGroup {
        name: name.to_string(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
    };
    flp::ConntrackConfig {
        key_definition: flp::KeyDefinition {
            field_groups: vec![
                group("src", &["SrcAddr", "SrcPort"]),
                group("dst", &["DstAddr", "DstPort"]),
                group("common", &["Proto"]),
            ],
            hash: flp::ConnectionHash {
                field_group_refs: vec!["common".into()],
                field_group_a_ref: "src".into(),
                field_group_b_ref: "dst".into(),
            },
        },
        output_record_types,
        output_fields: fields,
        scheduling: vec![flp::ConnectionScheduling {
            selector: Default::default(),
            heartbeat_interval: advanced.conversation_heartbeat_interval,
            end_connection_timeout: advanced.conversation_end_timeout,
            terminating_timeout: advanced.conversation_terminating_timeout,
        }],
        max_connections_tracked: None,
        tcp_flags: Some(flp::ConntrackTcpFlags {
            field_name: "Flags".into(),
            detect_end_connection: true,
            swap_ab: true,
        }),
    }
}
