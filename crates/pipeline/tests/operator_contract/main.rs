//! The operator → pipeline contract, tested end to end: the pipeline pod the operator renders
//! must start and work.
//!
//! For every sample FlowCollector the operator's golden tests use (`config/samples`, the
//! v1beta1 one converted first), in each deployment model and as-is on OpenShift, the operator
//! renders its objects here (the `netobserv-operator` crate itself, not a copy of its output).
//! The `flowlogs-pipeline` container of the rendered Deployment / DaemonSet is then run the way
//! a kubelet would run it:
//!
//! * in a network namespace of its own (a pod has one; the DaemonSet's `hostNetwork` changes
//!   nothing for the pipeline), so the rendered ports are used as they are;
//! * with exactly the rendered arguments and environment (the environment is cleared first);
//! * with its volumes laid out as files: ConfigMaps from the rendered ConfigMap objects, the
//!   gRPC serving certificate Secret generated here.
//!
//! What differs from a cluster, and why:
//!
//! * **Mount paths.** The test cannot write `/etc/flowlogs-pipeline` (other tests and users
//!   share the machine), so each mount path `M` is a directory `<tmp>M`, and every occurrence of
//!   `M` as a path prefix in the arguments and in the mounted files is rewritten to `<tmp>M`.
//!   Nothing else in them is changed, except:
//! * **Loki's address.** The rendered URL names a cluster DNS service; it is rewritten to
//!   `127.0.0.1` with the same port, where a Loki push stand-in (tests/common/loki.rs, strict
//!   about what Loki 3 refuses) listens.
//! * **API server access.** A kubelet injects `KUBERNETES_SERVICE_HOST`/`PORT` and a service
//!   account token; here `KUBECONFIG` points at the strict fake API server
//!   (`netobserv-fake-apiserver`, tests/common/cluster.rs) requiring that bearer token. It serves
//!   a small cluster and the rendered dynamic ConfigMap.
//!
//! Each run then requires: the rendered startup and liveness probes answer 200; a flow sent over
//! gRPC (TLS when rendered) to the rendered `flp` port reaches Loki, enriched from the API
//! server; the rendered `prometheus` port (the one the Service, ServiceMonitor and scrape
//! annotation use) serves the flow's metrics; and every `netobserv_*` metric the rendered alert
//! rules and console plugin configuration read is exposed under that name. The pod then stops
//! cleanly on SIGTERM.
//!
//! In the Kafka deployment model the flow goes through a real broker instead (tansu, started in
//! the pod's network namespace, the rendered broker address pointed at it): it is produced to
//! the rendered topic as the agents do, one `pbflow.Record` per message. With the sample's
//! Kafka TLS (the full sample), the broker sits behind a TLS front requiring a client
//! certificate, and the rendered `tls` paths get that front's CA and client certificate; with
//! its SASL (SCRAM-SHA-512), the broker requires a sign-in and the rendered credential files
//! get its user and password.
//!
//! Configurations using stages this pipeline does not run yet must be refused at start with the
//! stage type named; the test pins that too, so the gap is visible and closing it updates the
//! test.

#[path = "../common/mod.rs"]
mod common;

mod broker;
mod checks;
mod files;
mod pod;
mod refusal;
mod samples;

use common::pod::in_new_netns;
use pod::run_pod;
use refusal::{refused, unsupported_stage};
use samples::variants;

pub(crate) const API_ADDR: &str = "127.0.0.1:6443";

/// Runs every runnable variant of `sample_name`; checks the others are refused clearly.
fn contract(sample_name: &str) {
    assert!(
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0"),
        "the operator contract test runs the pod in a network namespace: run the suite as root"
    );
    for (label, objects) in variants(sample_name) {
        let unsupported = unsupported_stage(&objects);
        match unsupported {
            None => in_new_netns(move || run_pod(&label, &objects)),
            Some(kind) => in_new_netns(move || refused(&label, &objects, &kind)),
        }
    }
}

#[test]
fn v1beta1_sample() {
    contract("flows_v1beta1_flowcollector.yaml");
}

#[test]
fn minimal_sample() {
    contract("flows_v1beta2_flowcollector.yaml");
}

#[test]
fn full_sample() {
    contract("flows_v1beta2_flowcollector_full.yaml");
}

#[test]
fn network_events_sample() {
    contract("flows_v1beta2_flowcollector_network_events.yaml");
}

#[test]
fn packet_translation_sample() {
    contract("flows_v1beta2_flowcollector_packet_translation.yaml");
}

#[test]
fn secondary_interfaces_sample() {
    contract("flows_v1beta2_flowcollector_secondary_interfaces.yaml");
}
