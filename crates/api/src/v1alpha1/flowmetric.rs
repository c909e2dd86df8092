//! The `FlowMetric` custom resource: a user-defined Prometheus metric that the processor derives
//! from flows, with optional console dashboard charts.

use crate::v1beta2::common::mark_required;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Removes the `default:` that schemars derives from the container `Default` for `fields`. Used on
/// required fields that have no upstream default: the Rust `Default` needs some value for them, but
/// the CRD must not invent one.
fn drop_defaults(schema: &mut schemars::Schema, fields: &[&str]) {
    let Some(properties) = schema
        .as_object_mut()
        .and_then(|obj| obj.get_mut("properties"))
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    for field in fields {
        if let Some(property) = properties
            .get_mut(*field)
            .and_then(serde_json::Value::as_object_mut)
        {
            property.remove("default");
        }
    }
}

/// Desired metric: which flows it counts, what value it sums, which flow fields become labels, and
/// how the console charts it. Every label multiplies the number of series Prometheus stores, so
/// choose them with care.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "flows.netobserv.io",
    version = "v1alpha1",
    kind = "FlowMetric",
    plural = "flowmetrics",
    namespaced,
    status = "FlowMetricStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "Custom Prometheus metric generated from the collected flows. Only FlowMetrics in the FlowCollector namespace are used.",
    printcolumn = r#"{"name":"Metric Name","type":"string","jsonPath":".status.prometheusName"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Cardinality","type":"string","jsonPath":".status.conditions[?(@.type==\"CardinalityWarning\")].reason"}"#
)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = flow_metric_spec_schema)]
pub struct FlowMetricSpec {
    /// Metric name, without the `netobserv_` prefix that Prometheus shows. Empty means a name
    /// derived from the resource name.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schemars(pattern(r"^[a-zA-Z_][a-zA-Z0-9:_]*$|^$"))]
    pub metric_name: String,
    /// Kind of Prometheus metric.
    #[serde(rename = "type")]
    pub kind: MetricType,
    /// Help text published with the metric.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub help: String,
    /// Numeric flow field whose value the metric adds up. Empty counts flows instead.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value_field: String,
    /// Conditions on flow fields; only flows that pass all of them are counted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<MetricFilter>,
    /// Flow fields turned into Prometheus labels. Each one multiplies the series count, so avoid
    /// high-cardinality fields such as IP addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Array fields (such as `Interfaces` or `NetworkEvents`) to split into one metric update per
    /// item.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flatten: Vec<String>,
    /// Renames labels: keys are flow fields, values the label names to publish.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("additionalProperties" = {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"}))]
    pub remap: BTreeMap<String, String>,
    /// Restricts the metric to one direction. `Ingress` and `Egress` are shorthands for filters on
    /// `FlowDirection` (`0|2` and `1|2`).
    pub direction: FlowDirection,
    /// Histogram buckets, as float strings. Empty means Prometheus' defaults.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<String>,
    /// Float the value is divided by before it is recorded (for unit conversion). Empty or zero
    /// means no scaling.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub divider: String,
    /// Dashboard charts generated for the metric in the console.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub charts: Vec<Chart>,
}

fn flow_metric_spec_schema(schema: &mut schemars::Schema) {
    mark_required(schema, &["type"]);
    drop_defaults(schema, &["type"]);
}

/// Kind of Prometheus metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum MetricType {
    /// A value that only grows, for rates (bytes, packets, flows).
    #[default]
    Counter,
    /// A distribution of independently sampled values, such as latencies.
    Histogram,
    /// A value that goes up and down; only sampled at scrape time.
    Gauge,
}

/// How a [`MetricFilter`] compares the flow field with its value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum MatchType {
    /// The field equals the value.
    #[default]
    Equal,
    /// The field differs from the value.
    NotEqual,
    /// The field is present, whatever its value.
    Presence,
    /// The field is absent.
    Absence,
    /// The field matches the value as a regular expression.
    MatchRegex,
    /// The field does not match the value as a regular expression.
    NotMatchRegex,
}

/// Direction of the flows a metric counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FlowDirection {
    /// Every flow.
    #[default]
    Any,
    /// Egress flows (`FlowDirection` 1 or 2).
    Egress,
    /// Ingress flows (`FlowDirection` 0 or 2).
    Ingress,
}

/// A condition on one flow field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = metric_filter_schema)]
pub struct MetricFilter {
    /// Flow field to test.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
    /// Value to compare with. With `Equal` and `NotEqual`, `$(OtherField)` stands for the value of
    /// another field of the same flow.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Comparison to apply.
    pub match_type: MatchType,
}

fn metric_filter_schema(schema: &mut schemars::Schema) {
    mark_required(schema, &["field"]);
}

/// Unit of a chart's values, used to format them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ChartUnit {
    /// Plain number.
    #[default]
    #[serde(rename = "")]
    None,
    /// Bytes.
    #[serde(rename = "bytes")]
    Bytes,
    /// Seconds.
    #[serde(rename = "seconds")]
    Seconds,
    /// Bytes per second.
    #[serde(rename = "Bps")]
    Bps,
    /// Packets per second.
    #[serde(rename = "pps")]
    Pps,
    /// Percentage.
    #[serde(rename = "percent")]
    Percent,
}

impl ChartUnit {
    /// Whether no unit is set (the value is shown as a plain number).
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }
}

/// How a chart is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ChartType {
    /// One number per query; several queries give several panels.
    #[default]
    SingleStat,
    /// Lines over time.
    Line,
    /// Stacked areas over time.
    StackArea,
}

/// A console dashboard chart built from the metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = chart_schema)]
pub struct Chart {
    /// Dashboard that holds the chart; created when it does not exist.
    pub dashboard_name: String,
    /// Section of the dashboard; created when it does not exist. Empty means the top section.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub section_name: String,
    /// Title of the chart.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Unit of the values; empty for a plain number.
    #[serde(skip_serializing_if = "ChartUnit::is_none")]
    pub unit: ChartUnit,
    /// How the chart is drawn.
    #[serde(rename = "type")]
    pub kind: ChartType,
    /// Queries the chart shows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<Query>,
}

impl Default for Chart {
    fn default() -> Self {
        Self {
            dashboard_name: "Main".to_string(),
            section_name: String::new(),
            title: String::new(),
            unit: ChartUnit::None,
            kind: ChartType::SingleStat,
            queries: Vec::new(),
        }
    }
}

fn chart_schema(schema: &mut schemars::Schema) {
    mark_required(schema, &["title", "type", "queries"]);
    drop_defaults(schema, &["type"]);
}

/// A PromQL query of a chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = query_schema)]
pub struct Query {
    /// Query to run; `$METRIC` stands for this metric, as in `sum(rate($METRIC[2m]))`. With
    /// `SingleStat` it should return a single series.
    #[serde(rename = "promQL", skip_serializing_if = "String::is_empty")]
    pub prom_ql: String,
    /// Legend of each series; `{{ Label }}` inserts a label value so series can be told apart.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub legend: String,
    /// How many series to show per timestamp (not used by `SingleStat`).
    #[schemars(range(min = 1))]
    pub top: i32,
}

impl Default for Query {
    fn default() -> Self {
        Self {
            prom_ql: String::new(),
            legend: String::new(),
            top: 7,
        }
    }
}

fn query_schema(schema: &mut schemars::Schema) {
    mark_required(schema, &["promQL", "legend", "top"]);
}

/// Observed state of a FlowMetric, written by the operator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowMetricStatus {
    /// `Ready` tells whether the metric is in use; `CardinalityWarning` rates how many series its
    /// labels may create.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Full metric name as Prometheus shows it, prefix included.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prometheus_name: String,
}
