//! `otlplogs`: each flow (after the operator's field-mapping transform) as one OTLP log
//! record: typed attributes for the fields, the flow's JSON as the body (what a person reads
//! in a log viewer, as the Loki line), the flow's end as the record time.

use super::attributes::{key_values, string};
use super::{Export, Sender, Target, now_nanos};
use crate::config::Encode;
use crate::record::Record;
use crate::stage::{BuildError, StageContext, section};
use crate::write::DeliveryStats;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::sync::Arc;

/// `service.name` of what the pipeline sends.
pub const SERVICE_NAME: &str = "netobserv-flowlogs-pipeline";
/// Instrumentation scope of the records.
pub const SCOPE: &str = "netobserv.io/flows";

/// Fields holding the flow's end time in milliseconds, in the order tried (before and after
/// the default field mapping).
const END_MS: [&str; 2] = ["TimeFlowEndMs", "timeflowend"];

/// One flow as a log record.
pub fn log_record(record: &Record, observed: u64) -> LogRecord {
    let time = END_MS
        .iter()
        .find_map(|f| record.get(f).and_then(|v| v.as_i64()))
        .and_then(|ms| u64::try_from(ms).ok())
        .map_or(observed, |ms| ms.saturating_mul(1_000_000));
    LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: observed,
        severity_number: SeverityNumber::Info as i32,
        severity_text: "INFO".to_string(),
        body: Some(AnyValue {
            value: Some(Any::StringValue(record.to_json())),
        }),
        attributes: key_values(record),
        ..LogRecord::default()
    }
}

/// A batch of flows as one export request.
pub fn request(batch: &[Record]) -> ExportLogsServiceRequest {
    let observed = now_nanos();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![string("service.name", SERVICE_NAME)],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: SCOPE.to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..InstrumentationScope::default()
                }),
                log_records: batch.iter().map(|r| log_record(r, observed)).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// An `otlplogs` stage: one request per batch.
pub struct OtlpLogsStage {
    sender: Sender,
}

impl OtlpLogsStage {
    /// Sends to `target` from a task on `runtime`.
    pub fn start(target: Target, runtime: &tokio::runtime::Handle) -> Self {
        Self {
            sender: Sender::start(target, runtime),
        }
    }
}

impl crate::encode::Encoder for OtlpLogsStage {
    fn encode(&mut self, batch: &[Record]) {
        if !batch.is_empty() {
            self.sender
                .send(Export::Logs(request(batch), batch.len() as u64));
        }
    }

    fn delivery(&self) -> Option<Arc<DeliveryStats>> {
        Some(self.sender.stats())
    }
}

/// Builder of `otlplogs`.
pub fn build(
    encode: &Encode,
    ctx: &mut StageContext<'_>,
) -> Result<Box<dyn crate::encode::Encoder>, BuildError> {
    let params = section(encode.otlplogs.as_ref(), "otlplogs")?;
    let target = Target::from_params(&params.otlp_connection_info)?;
    Ok(Box::new(OtlpLogsStage::start(target, ctx.shared.runtime())))
}
