//! Container names by id, read from the container runtimes' own state on the host, for the
//! `host_process` transform (`SrcContainerName`, `DstContainerName`):
//!
//! * Docker: `/var/lib/docker/containers/<id>/config.v2.json`, field `Name` (`/web`).
//! * Podman (root): `/var/lib/containers/storage/overlay-containers/containers.json`, an array
//!   of `{"id": ..., "names": [...]}` (re-read when it changes).
//!
//! Kubernetes pods' containers (containerd, CRI-O) are named by the Kubernetes metadata instead.
//! The files are read only when a new socket owner in a container is found, not per flow.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Resolves container ids to names under a root directory (`/` on a host).
pub struct ContainerNames {
    root: PathBuf,
    found: HashMap<String, String>,
    podman: Option<(SystemTime, HashMap<String, String>)>,
}

impl ContainerNames {
    /// Reads the runtimes' state under `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            found: HashMap::new(),
            podman: None,
        }
    }

    /// The name of container `id`, when a runtime on this host knows it.
    pub fn name(&mut self, id: &str) -> Option<String> {
        if let Some(n) = self.found.get(id) {
            return Some(n.clone());
        }
        let name = self.docker(id).or_else(|| self.podman(id))?;
        self.found.insert(id.to_string(), name.clone());
        Some(name)
    }

    /// Forgets the names of containers no live socket belongs to any more, so the cache follows
    /// the containers running now rather than every one ever seen.
    pub fn keep_only(&mut self, live: &std::collections::HashSet<&str>) {
        self.found.retain(|id, _| live.contains(id.as_str()));
    }

    /// Names held.
    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// Whether no name is held.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    fn docker(&self, id: &str) -> Option<String> {
        if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let path = self
            .root
            .join("var/lib/docker/containers")
            .join(id)
            .join("config.v2.json");
        let text = std::fs::read_to_string(path).ok()?;
        let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
        let name = doc.get("Name")?.as_str()?.trim_start_matches('/');
        (!name.is_empty()).then(|| name.to_string())
    }

    fn podman(&mut self, id: &str) -> Option<String> {
        let path = self
            .root
            .join("var/lib/containers/storage/overlay-containers/containers.json");
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        if self.podman.as_ref().is_none_or(|(m, _)| *m != modified) {
            let text = std::fs::read_to_string(&path).ok()?;
            let list: Vec<serde_json::Value> = serde_json::from_str(&text).ok()?;
            let names = list
                .iter()
                .filter_map(|c| {
                    let id = c.get("id")?.as_str()?;
                    let name = c.get("names")?.as_array()?.first()?.as_str()?;
                    Some((id.to_string(), name.to_string()))
                })
                .collect();
            self.podman = Some((modified, names));
        }
        self.podman.as_ref()?.1.get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_and_podman_state_files_name_their_containers() {
        let root = std::env::temp_dir().join(format!("nobs-containers-{}", std::process::id()));
        let docker_id = "a1".repeat(32);
        let podman_id = "b2".repeat(32);
        let docker_dir = root.join("var/lib/docker/containers").join(&docker_id);
        std::fs::create_dir_all(&docker_dir).expect("dir");
        // As dockerd writes it (trimmed): the name with its leading slash.
        std::fs::write(
            docker_dir.join("config.v2.json"),
            format!(
                r#"{{"ID":"{docker_id}","Name":"/web","State":{{"Running":true,"Pid":4242}}}}"#
            ),
        )
        .expect("docker state");
        let podman_dir = root.join("var/lib/containers/storage/overlay-containers");
        std::fs::create_dir_all(&podman_dir).expect("dir");
        // As containers/storage writes it (trimmed).
        std::fs::write(
            podman_dir.join("containers.json"),
            format!(
                r#"[{{"id":"{podman_id}","names":["db"],"image":"c0ffee","layer":"d1","metadata":"{{}}","created":"2026-12-04T10:00:00Z"}}]"#
            ),
        )
        .expect("podman state");
        let mut names = ContainerNames::new(&root);
        assert_eq!(names.name(&docker_id).as_deref(), Some("web"));
        assert_eq!(names.name(&podman_id).as_deref(), Some("db"));
        assert_eq!(names.name(&"c3".repeat(32)), None);
        assert_eq!(names.name("../../etc"), None);
        assert_eq!(names.len(), 2, "found names are cached");
        // The docker container's sockets are gone: its name is forgotten, podman's kept.
        names.keep_only(&[podman_id.as_str()].into_iter().collect());
        assert_eq!(names.len(), 1);
        let _ = std::fs::remove_dir_all(&root);
    }
}
