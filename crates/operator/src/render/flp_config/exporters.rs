//! The exporters' stages, one function per exporter kind: Kafka, IPFIX, and OpenTelemetry (a
//! field-renaming transform followed by its logs and metrics encoders).

use super::credentials::{enabled_tls, sasl};
use super::stages::{Builder, encode, port, transform, write};
use crate::render::Inputs;
use crate::render::pod::Volumes;
use crate::render::transport::compression;
use netobserv_api::v1beta2::{
    ExporterType, FlowCollectorExporter, FlowCollectorIpfixReceiver, FlowCollectorKafka,
    FlowCollectorOpenTelemetry, IpfixTransport, OpenTelemetryProtocol,
};
use netobserv_flp_config as flp;
use netobserv_flp_config::{Encode, Transform, Write};

/// The stages of exporter `i` after `parent`.
pub(super) fn exporter(
    inputs: &Inputs<'_>,
    b: &mut Builder,
    volumes: &mut Volumes,
    parent: &str,
    i: usize,
    exp: &FlowCollectorExporter,
) {
    match exp.kind {
        ExporterType::Kafka => {
            if let Some(k) = &exp.kafka {
                kafka_exporter(b, volumes, parent, i, k);
            }
        }
        ExporterType::Ipfix => {
            if let Some(ipfix) = &exp.ipfix {
                ipfix_exporter(b, parent, i, ipfix);
            }
        }
        ExporterType::OpenTelemetry => {
            if let Some(otel) = &exp.open_telemetry {
                otel_exporter(inputs, b, volumes, parent, i, otel);
            }
        }
    }
}

/// The Kafka encoder of exporter `i`.
fn kafka_exporter(
    b: &mut Builder,
    volumes: &mut Volumes,
    parent: &str,
    i: usize,
    k: &FlowCollectorKafka,
) {
    let prefix = format!("kafka-export-{i}");
    let kafka = flp::EncodeKafka {
        address: k.address.clone(),
        topic: k.topic.clone(),
        compression: Some(compression(k.compression)),
        tls: enabled_tls(volumes, &prefix, &k.tls),
        sasl: sasl(volumes, &prefix, &k.sasl),
        ..flp::EncodeKafka::default()
    };
    let e = Encode {
        kind: flp::EncodeKind::Kafka,
        kafka: Some(kafka),
        ..Encode::default()
    };
    b.stage(Some(parent), encode(&prefix, e), false);
}

/// The IPFIX writer of exporter `i`.
fn ipfix_exporter(b: &mut Builder, parent: &str, i: usize, ipfix: &FlowCollectorIpfixReceiver) {
    let transport = match ipfix.transport.unwrap_or_default() {
        IpfixTransport::Tcp => "tcp",
        IpfixTransport::Udp => "udp",
    };
    let w = Write {
        kind: flp::WriteKind::Ipfix,
        ipfix: Some(flp::IpfixWrite {
            target_host: ipfix.target_host.clone(),
            target_port: port(ipfix.target_port),
            transport: transport.into(),
            enterprise_id: i64::from(ipfix.enterprise_id),
            tpl_send_interval: None,
        }),
        ..Write::default()
    };
    b.stage(Some(parent), write(&format!("ipfix-export-{i}"), w), false);
}

/// The OpenTelemetry stages of exporter `i`: the field renaming, then the logs and metrics
/// encoders that are enabled.
fn otel_exporter(
    inputs: &Inputs<'_>,
    b: &mut Builder,
    volumes: &mut Volumes,
    parent: &str,
    i: usize,
    otel: &FlowCollectorOpenTelemetry,
) {
    let rules: Vec<flp::GenericRule> = match &otel.fields_mapping {
        Some(m) => m
            .iter()
            .map(|r| flp::GenericRule {
                input: r.input.clone(),
                output: r.output.clone(),
                multiplier: Some(r.multiplier.into()),
            })
            .collect(),
        None => default_otel_mapping(),
    };
    let generic = Transform::generic(flp::GenericTransform {
        policy: flp::GenericPolicy::ReplaceKeys,
        rules,
    });
    let transform_stage = b.stage(
        Some(parent),
        transform(&format!("otel-export-{i}-transform"), generic),
        false,
    );
    let connection_type = match otel.protocol.unwrap_or_default() {
        OpenTelemetryProtocol::Http => flp::OtlpProtocol::Http,
        OpenTelemetryProtocol::Grpc => flp::OtlpProtocol::Grpc,
    };
    let conn = flp::OtlpConnection {
        address: otel.target_host.clone(),
        port: port(otel.target_port),
        connection_type,
        headers: otel.headers.clone(),
        tls: enabled_tls(volumes, &format!("otel-export-{i}"), &otel.tls),
    };
    if otel.logs.enable {
        let e = Encode {
            kind: flp::EncodeKind::Otlplogs,
            otlplogs: Some(flp::EncodeOtlpLogs {
                otlp_connection_info: conn.clone(),
            }),
            ..Encode::default()
        };
        let name = format!("otel-export-{i}-logs");
        b.stage(Some(&transform_stage), encode(&name, e), false);
    }
    if otel.metrics.enable {
        let e = Encode {
            kind: flp::EncodeKind::Otlpmetrics,
            otlpmetrics: Some(flp::EncodeOtlpMetrics {
                otlp_connection_info: conn,
                prefix: "netobserv_".into(),
                push_time_interval: Some(otel.metrics.push_time_interval.clone()),
                expiry_time: Some("2m".into()),
                metrics: crate::render::metrics::definitions(inputs),
            }),
            ..Encode::default()
        };
        let name = format!("otel-export-{i}-metrics");
        b.stage(Some(&transform_stage), encode(&name, e), false);
    }
}

/// Default mapping of flow fields to OpenTelemetry semantic-convention names, used when an
/// OpenTelemetry exporter has no `fieldsMapping`.
fn default_otel_mapping() -> Vec<flp::GenericRule> {
    [
        ("SrcAddr", "source.address"),
        ("SrcPort", "source.port"),
        ("SrcMac", "source.mac"),
        ("SrcK8S_Namespace", "source.k8s.namespace.name"),
        ("SrcK8S_Name", "source.k8s.name"),
        ("SrcK8S_OwnerName", "source.k8s.owner.name"),
        ("SrcK8S_HostName", "source.k8s.host.name"),
        ("DstAddr", "destination.address"),
        ("DstPort", "destination.port"),
        ("DstMac", "destination.mac"),
        ("DstK8S_Namespace", "destination.k8s.namespace.name"),
        ("DstK8S_Name", "destination.k8s.name"),
        ("DstK8S_OwnerName", "destination.k8s.owner.name"),
        ("DstK8S_HostName", "destination.k8s.host.name"),
        ("Proto", "protocol"),
        ("Bytes", "bytes"),
        ("Packets", "packets"),
        ("FlowDirection", "k8s.flow.direction"),
        ("K8S_FlowLayer", "k8s.layer"),
        ("TimeFlowStartMs", "timeflowstart"),
        ("TimeFlowEndMs", "timeflowend"),
    ]
    .iter()
    .map(|(input, output)| flp::GenericRule {
        input: (*input).to_string(),
        output: (*output).to_string(),
        multiplier: None,
    })
    .collect()
}
