//! The pipeline's outputs after the last transform: the Loki writer, the trace-level stdout
//! writer, the Prometheus encoder and the exporters, each behind its optional target filter.

use super::exporters::exporter;
use super::filters::{filter_stage, keep_rules};
use super::loki_writer::loki_write;
use super::stages::{Builder, encode, transform, write};
use crate::render::Inputs;
use crate::render::loki::LokiSettings;
use crate::render::pod::Volumes;
use netobserv_api::v1beta2::{FlpFilterTarget, LogLevel};
use netobserv_flp_config as flp;
use netobserv_flp_config::{Encode, Write};

/// Adds the output branches after `last`; returns whether the Loki client needs a projected
/// token.
pub(super) fn outputs(
    inputs: &Inputs<'_>,
    loki: &LokiSettings,
    volumes: &mut Volumes,
    b: &mut Builder,
    last: &str,
) -> bool {
    let spec = inputs.spec();
    let mut needs_loki_token = false;
    if spec.use_loki() {
        let parent = branch_parent(inputs, b, last, "filters-loki", FlpFilterTarget::Loki);
        let (loki_write, needs_token) = loki_write(inputs, loki, volumes);
        needs_loki_token = needs_token;
        b.stage(Some(&parent), write("loki", Write::loki(loki_write)), false);
    }
    if spec.processor.log_level == LogLevel::Trace {
        b.stage(
            Some(last),
            write("stdout", Write::stdout(flp::StdoutFormat::Json)),
            false,
        );
    }
    prometheus(inputs, b, last);
    if !spec.exporters.is_empty() {
        let parent = branch_parent(inputs, b, last, "filters-exp", FlpFilterTarget::Exporters);
        for (i, exp) in spec.exporters.iter().enumerate() {
            exporter(inputs, b, volumes, &parent, i, exp);
        }
    }
    needs_loki_token
}

/// The Prometheus encoder, dynamic so that FlowMetric edits hot-reload.
fn prometheus(inputs: &Inputs<'_>, b: &mut Builder, last: &str) {
    let parent = branch_parent(inputs, b, last, "filters-prom", FlpFilterTarget::Metrics);
    let prom = flp::PromEncode {
        metrics: crate::render::metrics::definitions(inputs),
        prefix: "netobserv_".into(),
        ..flp::PromEncode::default()
    };
    b.stage(
        Some(&parent),
        encode("prometheus", Encode::prom(prom)),
        true,
    );
}

/// Where a branch starts: a (dynamic) filter stage `name` after `last` when filters target it,
/// `last` itself otherwise.
fn branch_parent(
    inputs: &Inputs<'_>,
    b: &mut Builder,
    last: &str,
    name: &str,
    target: FlpFilterTarget,
) -> String {
    let rules = keep_rules(&inputs.spec().processor, target);
    if rules.is_empty() {
        last.to_string()
    } else {
        b.stage(Some(last), transform(name, filter_stage(rules)), true)
    }
}
