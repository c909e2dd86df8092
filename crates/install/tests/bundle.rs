//! The committed OLM bundle is what `config/` generates (stale check), and it passes the offline
//! `operator-sdk bundle validate` rules; each rule is shown to fail on a bundle broken for it.

use netobserv_install::{bundle, validate};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_committed_bundle_is_what_config_generates() {
    let inputs = bundle::Inputs::load(&root()).expect("inputs");
    let files = bundle::generate(&inputs, &inputs.images.tag).expect("generates");
    let problems = bundle::stale(&root(), &files).expect("compares");
    assert!(
        problems.is_empty(),
        "the bundle is stale, run `make bundle`:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_committed_bundle_passes_offline_validation() {
    let errors = validate::validate(&root().join("bundle")).expect("readable");
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// A scratch copy of the committed bundle to break.
fn copy_bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["manifests", "metadata"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        for entry in std::fs::read_dir(root().join("bundle").join(sub)).expect("bundle dir") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name()))
                .expect("copy");
        }
    }
    dir
}

fn csv_path(dir: &Path) -> PathBuf {
    dir.join("manifests/netobserv-rs.clusterserviceversion.yaml")
}

fn edit_csv(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let text = std::fs::read_to_string(csv_path(dir)).expect("csv");
    let mut csv: serde_json::Value = serde_yaml::from_str(&text).expect("csv parses");
    edit(&mut csv);
    std::fs::write(csv_path(dir), serde_yaml::to_string(&csv).expect("yaml")).expect("write");
}

fn errors_of(dir: &Path) -> String {
    validate::validate(dir).expect("readable").join("\n")
}

#[test]
fn each_rule_fails_on_a_bundle_broken_for_it() {
    type Break = fn(&mut serde_json::Value);
    let cases: [(&str, Break, &str); 7] = [
        (
            "bad version",
            |c| c["spec"]["version"] = "1.0".into(),
            "not semver",
        ),
        (
            "example dropped",
            |c| {
                let ex = c["metadata"]["annotations"]["alm-examples"]
                    .as_str()
                    .unwrap_or("[]");
                let mut list: Vec<serde_json::Value> = serde_json::from_str(ex).unwrap_or_default();
                list.retain(|e| e["kind"] != "FlowMetric");
                c["metadata"]["annotations"]["alm-examples"] =
                    serde_json::to_string(&list).unwrap_or_default().into();
            },
            "no example of FlowMetric v1alpha1",
        ),
        (
            "bad image",
            |c| c["spec"]["relatedImages"][1]["image"] = "Quay.io/UPPER CASE:tag".into(),
            "is not valid",
        ),
        (
            "descriptor drift",
            |c| {
                c["spec"]["customresourcedefinitions"]["owned"][0]["specDescriptors"][0]["path"] =
                    "agent.nosuchfield".into()
            },
            "is not in the CRD schema",
        ),
        (
            "no install mode",
            |c| {
                for m in c["spec"]["installModes"]
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                {
                    m["supported"] = false.into();
                }
            },
            "none supported",
        ),
        (
            "webhook to nowhere",
            |c| c["spec"]["webhookdefinitions"][0]["deploymentName"] = "other".into(),
            "deploymentName is not an install deployment",
        ),
        (
            "owned version unknown",
            |c| c["spec"]["customresourcedefinitions"]["owned"][0]["version"] = "v9".into(),
            "no served version of a bundled CRD",
        ),
    ];
    for (what, breaker, expected) in cases {
        let dir = copy_bundle();
        edit_csv(dir.path(), breaker);
        let errors = errors_of(dir.path());
        assert!(
            errors.contains(expected),
            "{what}: expected {expected:?} in:\n{errors}"
        );
    }
}

#[test]
fn an_unowned_crd_an_unsupported_kind_and_size_are_refused() {
    let dir = copy_bundle();
    std::fs::write(
        dir.path().join("manifests/extra.yaml"),
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: x\n",
    )
    .expect("write");
    let crd = dir
        .path()
        .join("manifests/flows.netobserv.io_flowmetrics.yaml");
    let text = std::fs::read_to_string(&crd).expect("crd");
    std::fs::write(
        &crd,
        text.replace("name: flowmetrics.flows", "name: other.flows"),
    )
    .expect("write");
    let padding = "# padding\n".repeat(110_000);
    std::fs::write(dir.path().join("manifests/big.yaml"), padding).expect("write");
    let errors = errors_of(dir.path());
    for expected in [
        "DaemonSet x: kind not installable",
        "CRD other.flows.netobserv.io version v1alpha1 is in the bundle but not owned",
        "over the 1048576-byte limit",
    ] {
        assert!(
            errors.contains(expected),
            "expected {expected:?} in:\n{errors}"
        );
    }
}

#[test]
fn config_manager_carries_the_images_of_images_env() {
    let images = netobserv_install::images::ImageSet::load(&root()).expect("images.env");
    let changes = netobserv_install::sync::plan(&root(), &images).expect("plan");
    let paths: Vec<String> = changes
        .iter()
        .map(|c| c.path.display().to_string())
        .collect();
    assert!(
        changes.is_empty(),
        "{paths:?} differ from images/images.env: run `make sync-images`"
    );
    let manager =
        std::fs::read_to_string(root().join("config/manager/manager.yaml")).expect("manager.yaml");
    for image in images.operands.iter() {
        assert!(manager.contains(&image.reference), "{}", image.reference);
    }
}
