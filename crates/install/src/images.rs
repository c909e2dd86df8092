//! Image names and tag from `images/images.env`, the one place a release edits.

use crate::{Error, read_text};
use std::collections::BTreeMap;
use std::path::Path;

/// One component image: the env key the operator reads it from and its full reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Short name, also the Containerfile stem under `images/` (`ebpf-agent`).
    pub name: String,
    /// `RELATED_IMAGE_*` variable of the operator Deployment, `None` for the operator itself.
    pub related_env: Option<&'static str>,
    /// Full reference, `registry/name:tag`.
    pub reference: String,
}

/// The images of one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    /// Registry and organisation, e.g. `quay.io/netobserv-rs`.
    pub registry: String,
    /// Tag shared by every image; also the default bundle version.
    pub tag: String,
    /// The operator image.
    pub operator: Image,
    /// The operand images, in the order of `RELATED_IMAGE_*` in the operator Deployment.
    pub operands: Vec<Image>,
}

/// The `images.env` key of each operand image and the operator variable it feeds.
const OPERANDS: [(&str, &str); 3] = [
    ("IMAGE_EBPF_AGENT", "RELATED_IMAGE_EBPF_AGENT"),
    ("IMAGE_FLOWLOGS_PIPELINE", "RELATED_IMAGE_FLOWLOGS_PIPELINE"),
    ("IMAGE_CONSOLE_PLUGIN", "RELATED_IMAGE_CONSOLE_PLUGIN"),
];

impl ImageSet {
    /// Reads `<root>/images/images.env`.
    pub fn load(root: &Path) -> Result<Self, Error> {
        let path = root.join("images/images.env");
        Self::parse(&read_text(&path)?)
    }

    /// Parses `KEY=value` lines (comments and blank lines ignored), as make and bash read them.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut vars = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(Error::Input(format!(
                    "images/images.env line {}: expected KEY=value, got {line:?}",
                    n + 1
                )));
            };
            vars.insert(key.trim().to_string(), value.trim().to_string());
        }
        let get = |key: &str| {
            vars.get(key)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| Error::Input(format!("images/images.env: {key} is not set")))
        };
        let registry = get("IMAGE_REGISTRY")?;
        let tag = get("IMAGE_TAG")?;
        let image = |name: String, related_env| Image {
            reference: format!("{registry}/{name}:{tag}"),
            name,
            related_env,
        };
        let operator = image(get("IMAGE_OPERATOR")?, None);
        let mut operands = Vec::new();
        for (key, env) in OPERANDS {
            operands.push(image(get(key)?, Some(env)));
        }
        Ok(ImageSet {
            registry,
            tag,
            operator,
            operands,
        })
    }

    /// Every image, the operator first.
    pub fn all(&self) -> impl Iterator<Item = &Image> {
        std::iter::once(&self.operator).chain(self.operands.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_built_from_registry_name_and_tag() {
        let set = ImageSet::parse(
            "# c\nIMAGE_REGISTRY=r.io/o\nIMAGE_TAG=1.2.3\nIMAGE_OPERATOR=op\n\
             IMAGE_EBPF_AGENT=a\nIMAGE_FLOWLOGS_PIPELINE=p\nIMAGE_CONSOLE_PLUGIN=c\n",
        )
        .expect("parses");
        assert_eq!(set.operator.reference, "r.io/o/op:1.2.3");
        assert_eq!(set.operands[1].reference, "r.io/o/p:1.2.3");
        assert_eq!(
            set.operands[1].related_env,
            Some("RELATED_IMAGE_FLOWLOGS_PIPELINE")
        );
    }

    #[test]
    fn a_missing_key_is_named() {
        let err = ImageSet::parse("IMAGE_REGISTRY=r\nIMAGE_TAG=1\n").expect_err("incomplete");
        assert!(err.to_string().contains("IMAGE_OPERATOR"), "{err}");
    }
}
