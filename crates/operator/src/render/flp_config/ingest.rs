//! The pipeline's first stage, per deployment model: the Kafka reader, or the gRPC server the
//! agents send to (with TLS in the Service model).

use super::credentials::{enabled_tls, sasl};
use super::stages::{Builder, named, port};
use crate::render::Inputs;
use crate::render::pod::Volumes;
use crate::render::transport::{processor_port, service_tls};
use netobserv_api::v1beta2::DeploymentModel;
use netobserv_flp_config as flp;
use netobserv_flp_config::{Ingest, StageParams};

/// The ingest stage of the deployment model; returns its name.
pub(super) fn ingest(inputs: &Inputs<'_>, volumes: &mut Volumes, b: &mut Builder) -> String {
    let spec = inputs.spec();
    let flp_spec = &spec.processor;
    if spec.deployment_model == DeploymentModel::Kafka {
        let kafka = &spec.kafka;
        let k = flp::IngestKafka {
            brokers: vec![kafka.address.clone()],
            topic: kafka.topic.clone(),
            group_id: "flowlogs-pipeline".into(),
            decoder: Some(flp::Decoder {
                kind: flp::DecoderKind::Protobuf,
            }),
            pull_queue_capacity: Some(i64::from(flp_spec.kafka_consumer_queue_capacity)),
            pull_max_bytes: Some(i64::from(flp_spec.kafka_consumer_batch_size)),
            tls: enabled_tls(volumes, "kafka-cert", &kafka.tls),
            sasl: sasl(volumes, "kafka", &kafka.sasl),
            ..flp::IngestKafka::default()
        };
        let params = StageParams {
            ingest: Some(Ingest::kafka(k)),
            ..named("kafka-read")
        };
        return b.stage(None, params, false);
    }
    let mut g = flp::IngestGrpc {
        port: Some(port(processor_port(spec))),
        ..flp::IngestGrpc::default()
    };
    if spec.deployment_model == DeploymentModel::Service {
        let tls = service_tls(inputs);
        if let Some(server) = &tls.server {
            let (crt, key) = volumes.cert("flp-certs", server);
            g.cert_path = crt;
            g.key_path = key;
        }
        if let Some(ca) = &tls.client_ca {
            g.client_ca_path = volumes.file("flp-client-ca", ca);
        }
    }
    let params = StageParams {
        ingest: Some(Ingest::grpc(g)),
        ..named("grpc")
    };
    b.stage(None, params, false)
}
