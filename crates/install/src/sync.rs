//! Writes the image references of `images/images.env` into `config/manager`, keeping the
//! files' comments: the operator image in the kustomization's `images:` entry, the operand images
//! in the Deployment's `RELATED_IMAGE_*` variables.

use crate::images::ImageSet;
use crate::{Error, read_text};
use regex::Regex;
use std::path::{Path, PathBuf};

/// A file whose content differs from what the image set asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// The content it should have.
    pub content: String,
}

/// The edits `config/manager` needs to carry `images`; empty when it is up to date.
pub fn plan(root: &Path, images: &ImageSet) -> Result<Vec<Change>, Error> {
    let mut changes = Vec::new();
    let kust = PathBuf::from("config/manager/kustomization.yaml");
    let text = read_text(&root.join(&kust))?;
    let (name, tag) = images
        .operator
        .reference
        .rsplit_once(':')
        .ok_or_else(|| Error::Input("operator image has no tag".into()))?;
    let text2 = replace_one(&text, r"(?m)^(\s+newName: )\S+$", name, &kust)?;
    let text2 = replace_one(&text2, r"(?m)^(\s+newTag: )\S+$", tag, &kust)?;
    if text2 != text {
        changes.push(Change {
            path: kust,
            content: text2,
        });
    }

    let manager = PathBuf::from("config/manager/manager.yaml");
    let text = read_text(&root.join(&manager))?;
    let mut text2 = text.clone();
    for image in &images.operands {
        let Some(env) = image.related_env else {
            continue;
        };
        let pattern = format!(r"(?m)^(\s+- name: {env}\n\s+value: )\S+$");
        text2 = replace_one(&text2, &pattern, &image.reference, &manager)?;
    }
    if text2 != text {
        changes.push(Change {
            path: manager,
            content: text2,
        });
    }
    Ok(changes)
}

/// Writes the planned changes.
pub fn apply(root: &Path, changes: &[Change]) -> Result<(), Error> {
    for c in changes {
        let path = root.join(&c.path);
        std::fs::write(&path, &c.content).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

fn replace_one(text: &str, pattern: &str, value: &str, file: &Path) -> Result<String, Error> {
    let re = Regex::new(pattern).map_err(|e| Error::Input(e.to_string()))?;
    if re.find_iter(text).count() != 1 {
        return Err(Error::Input(format!(
            "{}: expected exactly one match of {pattern}",
            file.display()
        )));
    }
    Ok(re
        .replace(text, |c: &regex::Captures<'_>| format!("{}{value}", &c[1]))
        .into_owned())
}
