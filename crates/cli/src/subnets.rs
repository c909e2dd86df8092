//! `--get-subnets`: the cluster's own address plan as subnet labels (`Pods`, `Services`,
//! `Machines`), so flows say which side is a pod, a service or a node without a person typing
//! CIDRs. Read from OpenShift's cluster `Network` configuration (`config.openshift.io/v1`,
//! status first, then spec) and the installer's `install-config` (ConfigMap
//! `kube-system/cluster-config-v1`, `networking.machineNetwork`).

use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

/// A label and the CIDRs it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetLabel {
    /// `Pods`, `Services`, `Machines`.
    pub name: String,
    /// CIDRs.
    pub cidrs: Vec<String>,
}

impl SubnetLabel {
    /// The collector's `--subnet-label` value: `NAME=CIDR[,CIDR...]`.
    pub fn to_flag(&self) -> String {
        format!("{}={}", self.name, self.cidrs.join(","))
    }

    /// Parses a `--subnet-label` value, checking each CIDR.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (name, cidrs) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}`: expected NAME=CIDR[,CIDR...]"))?;
        let cidrs: Vec<String> = cidrs.split(',').map(|c| c.trim().to_string()).collect();
        for c in &cidrs {
            c.parse::<ipnet::IpNet>()
                .map_err(|e| format!("`{text}`: `{c}` is not a CIDR: {e}"))?;
        }
        if name.is_empty() {
            return Err(format!("`{text}`: the label name is empty"));
        }
        Ok(Self {
            name: name.to_string(),
            cidrs,
        })
    }
}

/// Why the subnets could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SubnetError {
    /// Neither source exists (not OpenShift, or not readable with these credentials).
    #[error(
        "--get-subnets: the cluster has no OpenShift Network configuration nor install-config to read subnets from ({0}); give the agents' flows subnet labels another way or drop --get-subnets"
    )]
    NotFound(String),
}

/// CIDR strings of a `[{cidr: ...}]` list or a plain string list.
fn cidrs(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["cidr"].as_str().or_else(|| v.as_str()))
        .filter(|c| c.parse::<ipnet::IpNet>().is_ok())
        .map(str::to_string)
        .collect()
}

/// `Pods` and `Services` from the cluster `Network` object, status before spec.
pub fn from_network(network: &Value) -> Vec<SubnetLabel> {
    let pick = |field: &str| {
        let status = cidrs(&network["status"][field]);
        if status.is_empty() {
            cidrs(&network["spec"][field])
        } else {
            status
        }
    };
    [
        ("Pods", pick("clusterNetwork")),
        ("Services", pick("serviceNetwork")),
    ]
    .into_iter()
    .filter(|(_, c)| !c.is_empty())
    .map(|(n, c)| SubnetLabel {
        name: n.to_string(),
        cidrs: c,
    })
    .collect()
}

/// `Machines` from the installer's `install-config` YAML.
pub fn from_install_config(text: &str) -> Option<SubnetLabel> {
    let doc: Value = serde_yaml::from_str(text).ok()?;
    let c = cidrs(&doc["networking"]["machineNetwork"]);
    (!c.is_empty()).then(|| SubnetLabel {
        name: "Machines".to_string(),
        cidrs: c,
    })
}

/// Reads both sources; an error only when neither gives anything.
pub async fn discover(client: &Client) -> Result<Vec<SubnetLabel>, SubnetError> {
    let gvk = GroupVersionKind::gvk("config.openshift.io", "v1", "Network");
    let networks: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, "networks"),
    );
    let mut why = Vec::new();
    let mut out = match networks.get("cluster").await {
        Ok(obj) => from_network(&serde_json::to_value(&obj).unwrap_or_default()),
        Err(e) => {
            why.push(format!("networks.config.openshift.io/cluster: {e}"));
            Vec::new()
        }
    };
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "kube-system");
    match maps.get("cluster-config-v1").await {
        Ok(cm) => {
            if let Some(m) = cm
                .data
                .as_ref()
                .and_then(|d| d.get("install-config"))
                .and_then(|t| from_install_config(t))
            {
                out.push(m);
            }
        }
        Err(e) => why.push(format!("kube-system/cluster-config-v1: {e}")),
    }
    if out.is_empty() {
        return Err(SubnetError::NotFound(why.join("; ")));
    }
    Ok(out)
}
