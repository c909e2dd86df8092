//! Rendering cost of the full sample FlowCollector (every section used, Kafka model): the pure
//! render plus the JSON serialisation that server-side apply sends, i.e. the CPU part of one
//! reconcile pass that does not wait on the API server.

use criterion::{Criterion, criterion_group, criterion_main};
use netobserv_api::v1beta2::FlowCollector;
use netobserv_api::validate::{ClusterFacts, Cni, Platform};
use netobserv_operator::Images;
use netobserv_operator::render::{self, API_PROMETHEUS_RULE, API_SERVICE_MONITOR};
use std::hint::black_box;

fn full_sample() -> FlowCollector {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/samples/flows_v1beta2_flowcollector_full.yaml"
    );
    let text = std::fs::read_to_string(path).expect("full sample");
    let mut fc: FlowCollector = serde_yaml::from_str(&text).expect("parses");
    fc.metadata.uid = Some("bench".to_string());
    fc
}

fn bench(c: &mut Criterion) {
    let fc = full_sample();
    let facts = ClusterFacts {
        platform: Platform::Kubernetes,
        node_count: Some(10),
        cni: Some(Cni::OvnKubernetes),
        available_apis: [API_SERVICE_MONITOR, API_PROMETHEUS_RULE]
            .into_iter()
            .map(str::to_string)
            .collect(),
    };
    let images = Images::for_tests();
    c.bench_function("render_full_sample", |b| {
        b.iter(|| {
            let objects = render::render(black_box(&fc), &facts, &images, &[]).expect("renders");
            black_box(objects)
        });
    });
    c.bench_function("render_and_serialise_full_sample", |b| {
        b.iter(|| {
            let objects = render::render(black_box(&fc), &facts, &images, &[]).expect("renders");
            let values: Vec<_> = objects
                .iter()
                .map(|o| o.to_value().expect("serialises"))
                .collect();
            black_box(values)
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
