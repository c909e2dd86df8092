//! `config/` rendered the way `kubectl apply -k` sees it.

use crate::Error;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Renders the kustomization in `<root>/<dir>` with `kubectl kustomize` (`$KUBECTL` overrides
/// the command) and returns its objects in output order.
pub fn render(root: &Path, dir: &str) -> Result<Vec<Value>, Error> {
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_string());
    let out = Command::new(&kubectl)
        .arg("kustomize")
        .arg(root.join(dir))
        .output()
        .map_err(|e| Error::Kustomize {
            dir: dir.to_string(),
            message: format!("cannot run {kubectl}: {e}"),
        })?;
    if !out.status.success() {
        return Err(Error::Kustomize {
            dir: dir.to_string(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    parse_documents(&text, &format!("kubectl kustomize {dir}"))
}

/// Parses a multi-document YAML stream into JSON values, skipping empty documents.
pub fn parse_documents(text: &str, what: &str) -> Result<Vec<Value>, Error> {
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(doc).map_err(|e| Error::format(what, e))?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// `kind` of an object, or "".
pub fn kind(obj: &Value) -> &str {
    obj["kind"].as_str().unwrap_or_default()
}

/// `metadata.name` of an object, or "".
pub fn name(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}
