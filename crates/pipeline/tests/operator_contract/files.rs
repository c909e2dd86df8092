//! The pod's files: its rendered volumes laid out in a scratch directory, and the mounted
//! paths and cluster addresses in them pointed at the test's.

use crate::common::pod::{Pki, PodFiles, object};
use serde_json::Value as Json;

/// Lays the container's volumes out; returns the rewritten mounted files' paths.
pub(crate) fn lay_volumes(
    files: &mut PodFiles,
    objects: &[Json],
    workload: &Json,
    container: &Json,
    pki: &Pki,
) {
    let namespace = workload["metadata"]["namespace"]
        .as_str()
        .expect("namespace");
    let volumes = workload["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for mount in container["volumeMounts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let path = mount["mountPath"].as_str().expect("mountPath");
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("no volume {}", mount["name"]));
        let dir = files.dir(path);
        if let Some(name) = volume["configMap"]["name"].as_str() {
            let Some(cm) = object(objects, "ConfigMap", name)
                .filter(|cm| cm["metadata"]["namespace"] == namespace)
            else {
                provide_user_files(&dir, path, objects, container, pki);
                continue;
            };
            for (key, value) in cm["data"].as_object().expect("data") {
                std::fs::write(dir.join(key), value.as_str().expect("text")).expect("write");
            }
        } else if let Some(name) = volume["secret"]["secretName"].as_str()
            && object(objects, "Secret", name).is_none()
            && !name.ends_with("-cert")
        {
            provide_user_files(&dir, path, objects, container, pki);
        } else if let Some(name) = volume["secret"]["secretName"].as_str() {
            // Serving certificates (cert-manager / service CA in a cluster): generated here.
            assert!(
                name.ends_with("-cert"),
                "volume Secret {name} is not a certificate this test knows how to provide"
            );
            std::fs::write(dir.join("tls.crt"), &pki.cert_pem).expect("write");
            std::fs::write(dir.join("tls.key"), &pki.key_pem).expect("write");
            std::fs::write(dir.join("ca.crt"), &pki.ca_pem).expect("write");
        } else if let Some(sources) = volume["projected"]["sources"].as_array() {
            // A service account token the kubelet would project (Loki `authToken`).
            for source in sources {
                let file = source["serviceAccountToken"]["path"]
                    .as_str()
                    .unwrap_or_else(|| panic!("projected source {source} is not a token"));
                std::fs::write(dir.join(file), "test-service-account-token").expect("write");
            }
        } else {
            panic!("volume {volume} is of a kind this test does not lay out");
        }
    }
}

/// Lays out a ConfigMap or Secret the user provides (certificates, Kafka credentials) for a
/// mount at `mount_path`: every file the rendered configuration or command line reads there,
/// with the test PKI's CA, certificate or key by its name, or a stand-in credential.
pub(crate) fn provide_user_files(
    dir: &std::path::Path,
    mount_path: &str,
    objects: &[Json],
    container: &Json,
    pki: &Pki,
) {
    let mut texts: Vec<String> = objects
        .iter()
        .filter(|o| o["kind"] == "ConfigMap")
        .flat_map(|o| o["data"].as_object().cloned().unwrap_or_default())
        .filter_map(|(_, v)| v.as_str().map(str::to_string))
        .collect();
    texts.push(container.to_string());
    let prefix = format!("{}/", mount_path.trim_end_matches('/'));
    let mut names = std::collections::BTreeSet::new();
    for text in &texts {
        for (at, _) in text.match_indices(&prefix) {
            let name: String = text[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    assert!(
        !names.is_empty(),
        "nothing reads the user-provided mount {mount_path}"
    );
    for name in names {
        let lower = name.to_ascii_lowercase();
        let content = if lower.contains("key") {
            pki.key_pem.clone()
        } else if lower.contains("ca") {
            pki.ca_pem.clone()
        } else if lower.contains("crt") || lower.contains("cert") || lower.ends_with(".pem") {
            pki.cert_pem.clone()
        } else {
            "netobserv".to_string()
        };
        std::fs::write(dir.join(&name), content).expect("write");
    }
}

/// `text` with mount paths moved and Loki's cluster address replaced by the stand-in's.
pub(crate) fn rewrite_file(files: &PodFiles, text: &str, loki_url: Option<&str>) -> String {
    let mut out = files.rewrite(text);
    if let Some(url) = loki_url {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .and_then(|hp| hp.rsplit_once(':'))
            .map(|(h, _)| h.to_string())
            .expect("Loki URL host");
        out = out.replace(&format!("//{host}:"), "//127.0.0.1:");
    }
    out
}
