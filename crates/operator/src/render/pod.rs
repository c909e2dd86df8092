//! Pieces every component's pod spec shares: the image pull policy and the volumes collected
//! while building a container's environment (with cross-namespace copies).

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, HostPathVolumeSource, SecretVolumeSource, Volume, VolumeMount,
};
use netobserv_api::v1beta2::{CertificateReference, FileReference, MountableType};

/// The image pull policy string.
pub fn pull_policy(p: netobserv_api::v1beta2::ImagePullPolicy) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "IfNotPresent".to_string())
}

/// Volumes and mounts collected while building the environment, deduplicated by name. References
/// to a Secret or ConfigMap in another namespace than the pod's are recorded as copies: a pod can
/// only mount objects of its own namespace.
#[derive(Clone, Debug, Default)]
pub struct Volumes {
    /// Namespace of the pod.
    pub target_ns: String,
    /// Pod volumes.
    pub volumes: Vec<Volume>,
    /// Container mounts.
    pub mounts: Vec<VolumeMount>,
    /// Objects to copy into `target_ns`.
    pub copies: Vec<super::CertCopy>,
}

impl Volumes {
    /// Volumes of a pod in `target_ns`.
    pub fn new(target_ns: &str) -> Self {
        Self {
            target_ns: target_ns.to_string(),
            ..Self::default()
        }
    }

    fn note_copy(&mut self, kind: Option<MountableType>, name: &str, namespace: &str) {
        if namespace.is_empty() || namespace == self.target_ns || name.is_empty() {
            return;
        }
        let copy = super::CertCopy {
            kind: kind.unwrap_or_default(),
            source_namespace: namespace.to_string(),
            name: name.to_string(),
            target_namespace: self.target_ns.clone(),
        };
        if !self.copies.contains(&copy) {
            self.copies.push(copy);
        }
    }

    /// Mounts host path `host` at `mount` (a directory when `dir`), once per name.
    pub fn host_path(&mut self, name: &str, host: &str, mount: &str, dir: bool) {
        if self.volumes.iter().any(|v| v.name == name) {
            return;
        }
        self.volumes.push(Volume {
            name: name.to_string(),
            host_path: Some(HostPathVolumeSource {
                path: host.to_string(),
                type_: dir.then(|| "Directory".to_string()),
            }),
            ..Volume::default()
        });
        self.mounts.push(VolumeMount {
            name: name.to_string(),
            mount_path: mount.to_string(),
            mount_propagation: Some("HostToContainer".to_string()),
            ..VolumeMount::default()
        });
    }

    /// Mounts a Secret or ConfigMap at `/var/<name>` and returns that directory.
    pub fn mountable(&mut self, name: &str, kind: Option<MountableType>, source: &str) -> String {
        let dir = format!("/var/{name}");
        if self.volumes.iter().any(|v| v.name == name) {
            return dir;
        }
        let mut volume = Volume {
            name: name.to_string(),
            ..Volume::default()
        };
        match kind.unwrap_or_default() {
            MountableType::Secret => {
                volume.secret = Some(SecretVolumeSource {
                    secret_name: Some(source.to_string()),
                    ..SecretVolumeSource::default()
                });
            }
            MountableType::ConfigMap => {
                volume.config_map = Some(ConfigMapVolumeSource {
                    name: source.to_string(),
                    ..ConfigMapVolumeSource::default()
                });
            }
        }
        self.volumes.push(volume);
        self.mounts.push(VolumeMount {
            name: name.to_string(),
            mount_path: dir.clone(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        dir
    }

    /// Mounts a certificate reference; returns (cert path, key path).
    pub fn cert(&mut self, name: &str, cert: &CertificateReference) -> (String, String) {
        self.note_copy(cert.kind, &cert.name, &cert.namespace);
        let dir = self.mountable(name, cert.kind, &cert.name);
        (
            format!("{dir}/{}", cert.cert_file),
            format!("{dir}/{}", cert.cert_key),
        )
    }

    /// Mounts a file reference; returns the file path.
    pub fn file(&mut self, name: &str, file: &FileReference) -> String {
        self.note_copy(file.kind, &file.name, &file.namespace);
        let dir = self.mountable(name, file.kind, &file.name);
        format!("{dir}/{}", file.file)
    }
}
