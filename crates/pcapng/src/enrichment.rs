//! The Kubernetes enrichment of a packet as pcapng comments, so that Wireshark and `tshark` show
//! (and filter on, with `frame.comment`) which pods, owners and nodes a packet went between.
//!
//! Like upstream's CLI, a packet gets up to three comments: `Source`, `Destination` and `Common`.
//! Each is its title on the first line, then one `Field: value` line per known field, sorted by
//! name; fields carry the names of the enriched flow record (`SrcK8S_Namespace`,
//! `DstK8S_OwnerName`, ...), so a filter written for flows reads the same on packets. A side
//! nothing is known about gets no comment.

/// What the collector knows of one end of a packet. Empty fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// Namespace (`*K8S_Namespace`).
    pub namespace: String,
    /// Object name: pod, service or node (`*K8S_Name`).
    pub name: String,
    /// Object kind: `Pod`, `Service`, `Node` (`*K8S_Type`).
    pub kind: String,
    /// Owner name, e.g. the Deployment (`*K8S_OwnerName`).
    pub owner_name: String,
    /// Owner kind, e.g. `Deployment` (`*K8S_OwnerType`).
    pub owner_kind: String,
    /// Node the object runs on (`*K8S_HostName`).
    pub host_name: String,
    /// Node address (`*K8S_HostIP`).
    pub host_ip: String,
    /// Zone of the node (`*K8S_Zone`).
    pub zone: String,
}

impl Endpoint {
    /// `(field suffix, value)` of the fields that are set, in suffix order.
    fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("K8S_HostIP", self.host_ip.as_str()),
            ("K8S_HostName", self.host_name.as_str()),
            ("K8S_Name", self.name.as_str()),
            ("K8S_Namespace", self.namespace.as_str()),
            ("K8S_OwnerName", self.owner_name.as_str()),
            ("K8S_OwnerType", self.owner_kind.as_str()),
            ("K8S_Type", self.kind.as_str()),
            ("K8S_Zone", self.zone.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
    }
}

/// The enrichment of one packet, supplied by the caller (the collector's Kubernetes lookup).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enrichment {
    /// The sender.
    pub source: Endpoint,
    /// The receiver.
    pub destination: Endpoint,
    /// Fields about neither end alone (`Interfaces`, `FlowDirection`, `Udns`, ...), as
    /// `(name, value)`; sorted by name in the comment.
    pub common: Vec<(String, String)>,
}

impl Enrichment {
    /// The comments to attach to the packet: `Source`, `Destination`, `Common`, each only when
    /// it has a field. Values are written as given, one line each (a line break in a value is
    /// replaced by a space so that every line stays a field).
    pub fn comments(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(3);
        for (title, prefix, side) in [
            ("Source", "Src", &self.source),
            ("Destination", "Dst", &self.destination),
        ] {
            let mut fields = side.fields().peekable();
            if fields.peek().is_none() {
                continue;
            }
            let mut c = String::with_capacity(256);
            c.push_str(title);
            for (k, v) in fields {
                push_line(&mut c, &[prefix, k], v);
            }
            out.push(c);
        }
        if !self.common.is_empty() {
            let mut common: Vec<&(String, String)> = self.common.iter().collect();
            common.sort();
            let mut c = String::from("Common");
            for (k, v) in common {
                push_line(&mut c, &[k], v);
            }
            out.push(c);
        }
        out
    }
}

/// Appends `\nKEY: value`, the key given in parts, the value on one line.
fn push_line(c: &mut String, key: &[&str], value: &str) {
    c.push('\n');
    key.iter().for_each(|k| c.push_str(k));
    c.push_str(": ");
    if value.contains(['\n', '\r']) {
        c.extend(
            value
                .chars()
                .map(|ch| if ch == '\n' || ch == '\r' { ' ' } else { ch }),
        );
    } else {
        c.push_str(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_side_is_a_titled_comment_of_sorted_record_fields() {
        let e = Enrichment {
            source: Endpoint {
                namespace: "shop".into(),
                name: "cart-7d9f".into(),
                kind: "Pod".into(),
                owner_name: "cart".into(),
                owner_kind: "Deployment".into(),
                host_name: "node-a".into(),
                ..Endpoint::default()
            },
            destination: Endpoint {
                name: "node-b".into(),
                kind: "Node".into(),
                host_name: "node-b".into(),
                ..Endpoint::default()
            },
            common: vec![
                ("Interfaces".into(), "eth0".into()),
                ("FlowDirection".into(), "1".into()),
            ],
        };
        assert_eq!(
            e.comments(),
            vec![
                "Source\nSrcK8S_HostName: node-a\nSrcK8S_Name: cart-7d9f\nSrcK8S_Namespace: shop\n\
                 SrcK8S_OwnerName: cart\nSrcK8S_OwnerType: Deployment\nSrcK8S_Type: Pod"
                    .to_string(),
                "Destination\nDstK8S_HostName: node-b\nDstK8S_Name: node-b\nDstK8S_Type: Node"
                    .to_string(),
                "Common\nFlowDirection: 1\nInterfaces: eth0".to_string(),
            ]
        );
    }

    #[test]
    fn unknown_sides_get_no_comment_and_values_stay_on_one_line() {
        assert!(Enrichment::default().comments().is_empty());
        let e = Enrichment {
            destination: Endpoint {
                namespace: "a\nb".into(),
                ..Endpoint::default()
            },
            ..Enrichment::default()
        };
        assert_eq!(e.comments(), vec!["Destination\nDstK8S_Namespace: a b"]);
    }
}
