//! The Kafka deployment model: a real broker (tansu) in place of the rendered one, secured as
//! the rendered ingest asks, and the pod's credential files holding what it accepts.

use crate::common::pod::PodFiles;
use netobserv_test_kafka::Broker;
use serde_json::Value as Json;

/// The user the broker accepts when the rendered ingest signs in with SCRAM-SHA-512.
pub(crate) const SCRAM_USER: &str = "flowlogs-pipeline";
/// Its password.
pub(crate) const SCRAM_PASSWORD: &str = "a-scram-password";

/// The rendered `kafka` ingest parameters, when the configuration has one.
pub(crate) fn rendered_ingest(static_config: &Json) -> Option<serde_json::Map<String, Json>> {
    static_config["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|p| p["ingest"]["kafka"].as_object().cloned())
}

/// Starts the broker for the rendered ingest: behind a TLS front wanting a client certificate
/// when the ingest has `tls`, requiring a SCRAM sign-in when it has `sasl`.
pub(crate) fn start(
    kafka: &serde_json::Map<String, Json>,
    runtime: &tokio::runtime::Runtime,
) -> Broker {
    let part = |name: &str| kafka.get(name).is_some_and(Json::is_object);
    match (part("tls"), part("sasl")) {
        (true, true) => runtime.block_on(Broker::start_behind_tls_with_scram(
            SCRAM_USER,
            SCRAM_PASSWORD,
        )),
        (false, true) => runtime.block_on(Broker::start_with_scram(SCRAM_USER, SCRAM_PASSWORD)),
        (true, false) => Broker::start_behind_tls(),
        (false, false) => Broker::start(),
    }
}

/// `text` with the rendered broker addresses replaced by the test broker's.
pub(crate) fn point_at(
    kafka: &serde_json::Map<String, Json>,
    broker: &Broker,
    text: String,
) -> String {
    let mut text = text;
    for rendered in kafka["brokers"].as_array().into_iter().flatten() {
        let rendered = rendered.as_str().expect("broker address");
        text = text.replace(rendered, &broker.address);
    }
    text
}

/// Writes what the broker accepts where the rendered configuration reads it: the TLS front's
/// CA and client certificate over the user-provided files, and the SCRAM user and password
/// into the credential files.
pub(crate) fn provide_credentials(
    kafka: &serde_json::Map<String, Json>,
    broker: &Broker,
    files: &PodFiles,
) {
    if let (Some(tls), Some(front)) = (kafka.get("tls"), broker.tls.as_ref()) {
        for (field, source) in [
            ("caCertPath", &front.ca),
            ("userCertPath", &front.client_cert),
            ("userKeyPath", &front.client_key),
        ] {
            if let Some(path) = tls[field].as_str().filter(|p| !p.is_empty()) {
                std::fs::copy(source, files.rewrite(path))
                    .unwrap_or_else(|e| panic!("the broker's {field} at {path}: {e}"));
            }
        }
    }
    if let Some(sasl) = kafka.get("sasl").filter(|s| s.is_object()) {
        for (field, content) in [
            ("clientIDPath", SCRAM_USER),
            ("clientSecretPath", SCRAM_PASSWORD),
        ] {
            let path = sasl[field]
                .as_str()
                .expect("a rendered SASL credential path");
            std::fs::write(files.rewrite(path), content)
                .unwrap_or_else(|e| panic!("the broker's {field} at {path}: {e}"));
        }
    }
}
