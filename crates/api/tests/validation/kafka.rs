//! Kafka settings that the schema's `""` defaults let through: address and topic must be set
//! wherever Kafka is used.

use crate::support::{assert_clean, assert_error, check, errors_at};
use pretty_assertions::assert_eq;
use serde_json::json;

#[test]
fn kafka_model_needs_an_address_and_a_topic() {
    let report = check(json!({"deploymentModel": "Kafka"}));
    assert_error(&report, "spec.kafka.address", "deploymentModel Kafka");
    assert_error(&report, "spec.kafka.topic", "deploymentModel Kafka");
    let report =
        check(json!({"deploymentModel": "Kafka", "kafka": {"address": "kafka:9092", "topic": ""}}));
    assert_eq!(errors_at(&report, "spec.kafka.address"), 0);
    assert_error(&report, "spec.kafka.topic", "existing topic");
    assert_clean(&check(
        json!({"deploymentModel": "Kafka", "kafka": {"address": "kafka:9092", "topic": "flows"}}),
    ));
    // The same empty block is fine when Kafka is not used.
    assert_clean(&check(json!({"deploymentModel": "Service"})));
}

#[test]
fn kafka_exporters_need_an_address_and_a_topic() {
    let report = check(json!({"exporters": [
        {"type": "IPFIX", "ipfix": {"targetHost": "ipfix", "targetPort": 4739}},
        {"type": "Kafka", "kafka": {"address": "", "topic": "t"}},
        {"type": "Kafka"}
    ]}));
    assert_error(&report, "spec.exporters[1].kafka.address", "Kafka exporter");
    assert_eq!(errors_at(&report, "spec.exporters[1].kafka.topic"), 0);
    assert_error(&report, "spec.exporters[2].kafka", "type Kafka");
}
