//! The operator as a certificate issuer where no platform CA exists (plain Kubernetes): its own
//! CA in Secret `netobserv-operator-ca`, leaf certificates for what `render::certs::plan` lists,
//! and the CA bundle ConfigMap `netobserv-ca` the pods trust.
//!
//! Leaves live a year and are re-issued when less than 90 days remain, when the CA changed or
//! when their names changed; the CA lives ten years and is replaced when less than one remains,
//! the old one staying in the bundle until it expires so that running pods keep trusting each
//! other through the rotation. Expiry, issuer and names are recorded as annotations on each
//! Secret, so no certificate parsing is needed to decide. Pods roll on a change through the
//! `flows.netobserv.io/watched-*` digests of their mounted volumes.

use crate::error::{Error, Result};
use crate::render::Object;
use crate::render::certs::{CA_BUNDLE_CONFIG_MAP, CA_BUNDLE_KEY, CA_SECRET, CertPlan, CertRequest};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::Api;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::collections::BTreeMap;
use tracing::info;

const DAY: SignedDuration = SignedDuration::from_hours(24);
/// Validity of a leaf certificate.
pub const LEAF_LIFETIME: SignedDuration = SignedDuration::from_hours(24 * 365);
/// A leaf is re-issued when less than this remains.
pub const LEAF_RENEW_BEFORE: SignedDuration = SignedDuration::from_hours(24 * 90);
/// Validity of the CA.
pub const CA_LIFETIME: SignedDuration = SignedDuration::from_hours(24 * 3650);
/// The CA is replaced when less than this remains.
pub const CA_RENEW_BEFORE: SignedDuration = SignedDuration::from_hours(24 * 365);

const NOT_AFTER: &str = "flows.netobserv.io/not-after";
const ISSUER: &str = "flows.netobserv.io/issuer";
const NAMES: &str = "flows.netobserv.io/names";
const PREVIOUS_NOT_AFTER: &str = "flows.netobserv.io/previous-not-after";
const PREVIOUS_CERT: &str = "previous.crt";

fn cert_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Certificate(format!("{what}: {e}"))
}

/// The UTC calendar date of `t` (rcgen takes dates).
fn ymd(t: Timestamp) -> (i32, u8, u8) {
    let d = t.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC).date();
    (
        i32::from(d.year()),
        u8::try_from(d.month()).unwrap_or(1),
        u8::try_from(d.day()).unwrap_or(1),
    )
}

fn validity(params: &mut CertificateParams, now: Timestamp, lifetime: SignedDuration) -> Timestamp {
    // Valid from yesterday (clock skew between nodes) to the end date.
    let (y, m, d) = ymd(now - DAY);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let end = now + lifetime;
    let (y, m, d) = ymd(end);
    params.not_after = rcgen::date_time_ymd(y, m, d);
    end
}

/// The CA's fixed subject and usages: with the same key they rebuild the same issuer, so leaves
/// can be signed later without parsing the CA certificate.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "netobserv-rs operator CA");
    dn.push(DnType::OrganizationName, "netobserv-rs");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// The operator's CA as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ca {
    /// PEM private key.
    pub key_pem: String,
    /// PEM certificate.
    pub cert_pem: String,
    /// Expiry.
    pub not_after: Timestamp,
    /// The replaced CA, kept in the bundle until it expires.
    pub previous: Option<(String, Timestamp)>,
}

impl Ca {
    fn generate(now: Timestamp, previous: Option<(String, Timestamp)>) -> Result<Self> {
        let key = KeyPair::generate().map_err(|e| cert_error("CA key", e))?;
        let mut params = ca_params();
        let not_after = validity(&mut params, now, CA_LIFETIME);
        let cert = params
            .self_signed(&key)
            .map_err(|e| cert_error("CA certificate", e))?;
        Ok(Self {
            key_pem: key.serialize_pem(),
            cert_pem: cert.pem(),
            not_after,
            previous,
        })
    }

    fn from_secret(secret: &Secret) -> Option<Self> {
        let data = secret.data.as_ref()?;
        let text = |k: &str| {
            data.get(k)
                .and_then(|b| String::from_utf8(b.0.clone()).ok())
        };
        let annotations = secret.metadata.annotations.as_ref()?;
        let stamp = |k: &str| annotations.get(k).and_then(|s| s.parse::<Timestamp>().ok());
        let previous = text(PREVIOUS_CERT).zip(stamp(PREVIOUS_NOT_AFTER));
        Some(Self {
            key_pem: text("tls.key")?,
            cert_pem: text("tls.crt")?,
            not_after: stamp(NOT_AFTER)?,
            previous,
        })
    }

    /// The certificates pods must trust: this CA and, until it expires, the one it replaced.
    pub fn bundle(&self, now: Timestamp) -> String {
        let mut out = self.cert_pem.clone();
        if let Some((pem, until)) = &self.previous
            && *until > now
        {
            out.push_str(pem);
        }
        out
    }

    fn digest(&self) -> String {
        crate::render::digest::digest(&self.cert_pem)
    }

    fn sign(&self, req: &CertRequest, now: Timestamp) -> Result<Leaf> {
        let ca_key = KeyPair::from_pem(&self.key_pem).map_err(|e| cert_error("CA key", e))?;
        let issuer = Issuer::new(ca_params(), ca_key);
        let key = KeyPair::generate().map_err(|e| cert_error("key", e))?;
        let mut params = CertificateParams::new(req.dns_names.clone())
            .map_err(|e| cert_error(&req.secret, e))?;
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, req.common_name.clone());
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = if req.dns_names.is_empty() {
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        } else {
            vec![ExtendedKeyUsagePurpose::ServerAuth]
        };
        params.use_authority_key_identifier_extension = true;
        let not_after = validity(&mut params, now, LEAF_LIFETIME);
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| cert_error(&req.secret, e))?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            not_after,
        })
    }
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    not_after: Timestamp,
}

fn names_digest(req: &CertRequest) -> String {
    crate::render::digest::digest(&format!("{}|{}", req.common_name, req.dns_names.join(",")))
}

fn tls_secret(
    name: &str,
    ns: &str,
    cert: &str,
    key: &str,
    annotations: BTreeMap<String, String>,
    extra: &[(&str, &str)],
) -> Object {
    let mut data: BTreeMap<String, ByteString> = BTreeMap::new();
    data.insert("tls.crt".into(), ByteString(cert.as_bytes().to_vec()));
    data.insert("tls.key".into(), ByteString(key.as_bytes().to_vec()));
    for (k, v) in extra {
        data.insert((*k).to_string(), ByteString(v.as_bytes().to_vec()));
    }
    Object::Secret(Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(data),
        ..Secret::default()
    })
}

/// Whether an existing leaf Secret can stay: issued by this CA for these names, not expiring.
fn reusable(secret: &Secret, ca: &Ca, req: &CertRequest, now: Timestamp) -> bool {
    let Some(a) = secret.metadata.annotations.as_ref() else {
        return false;
    };
    let has_data = secret
        .data
        .as_ref()
        .is_some_and(|d| d.contains_key("tls.crt") && d.contains_key("tls.key"));
    let fresh = a
        .get(NOT_AFTER)
        .and_then(|s| s.parse::<Timestamp>().ok())
        .is_some_and(|t| t.duration_since(now) > LEAF_RENEW_BEFORE);
    has_data
        && fresh
        && a.get(ISSUER) == Some(&ca.digest())
        && a.get(NAMES) == Some(&names_digest(req))
}

/// What already exists, as read from the cluster.
#[derive(Clone, Debug, Default)]
pub struct Existing {
    /// The CA Secret.
    pub ca: Option<Secret>,
    /// Leaf Secrets by (namespace, name).
    pub leaves: BTreeMap<(String, String), Secret>,
}

/// The Secrets and ConfigMaps to apply for `plan` (pure: given what exists and the time).
pub fn desired(
    plan: &CertPlan,
    ns: &str,
    existing: &Existing,
    now: Timestamp,
) -> Result<Vec<Object>> {
    if plan.is_empty() {
        return Ok(Vec::new());
    }
    let current = existing.ca.as_ref().and_then(Ca::from_secret);
    let ca = match current {
        Some(ca) if ca.not_after.duration_since(now) > CA_RENEW_BEFORE => ca,
        Some(old) => {
            info!(expires = %old.not_after, "the operator CA is close to expiry: issuing a new one");
            Ca::generate(now, Some((old.cert_pem, old.not_after)))?
        }
        None => {
            info!("issuing the operator CA (Secret {CA_SECRET}) for the Auto TLS modes");
            Ca::generate(now, None)?
        }
    };
    let mut out = Vec::new();
    let mut ca_annotations = BTreeMap::from([(NOT_AFTER.to_string(), ca.not_after.to_string())]);
    let mut extra = Vec::new();
    if let Some((pem, until)) = &ca.previous {
        ca_annotations.insert(PREVIOUS_NOT_AFTER.to_string(), until.to_string());
        extra.push((PREVIOUS_CERT, pem.as_str()));
    }
    out.push(tls_secret(
        CA_SECRET,
        ns,
        &ca.cert_pem,
        &ca.key_pem,
        ca_annotations,
        &extra,
    ));
    let bundle = ca.bundle(now);
    for bundle_ns in &plan.bundle_namespaces {
        out.push(Object::ConfigMap(ConfigMap {
            metadata: ObjectMeta {
                name: Some(CA_BUNDLE_CONFIG_MAP.to_string()),
                namespace: Some(bundle_ns.clone()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(
                CA_BUNDLE_KEY.to_string(),
                bundle.clone(),
            )])),
            ..ConfigMap::default()
        }));
    }
    for req in &plan.certificates {
        let key = (req.namespace.clone(), req.secret.clone());
        match existing.leaves.get(&key) {
            Some(secret) if reusable(secret, &ca, req, now) => {
                let mut kept = secret.clone();
                kept.metadata = ObjectMeta {
                    name: secret.metadata.name.clone(),
                    namespace: secret.metadata.namespace.clone(),
                    annotations: secret.metadata.annotations.clone(),
                    ..ObjectMeta::default()
                };
                out.push(Object::Secret(kept));
            }
            _ => {
                info!(secret = %format!("{}/{}", req.namespace, req.secret), "issuing certificate");
                let leaf = ca.sign(req, now)?;
                let annotations = BTreeMap::from([
                    (NOT_AFTER.to_string(), leaf.not_after.to_string()),
                    (ISSUER.to_string(), ca.digest()),
                    (NAMES.to_string(), names_digest(req)),
                ]);
                out.push(tls_secret(
                    &req.secret,
                    &req.namespace,
                    &leaf.cert_pem,
                    &leaf.key_pem,
                    annotations,
                    &[],
                ));
            }
        }
    }
    Ok(out)
}

/// Reads what exists and returns the objects to apply for `plan`.
pub async fn issue(client: &Client, plan: &CertPlan, ns: &str) -> Result<Vec<Object>> {
    if plan.is_empty() {
        return Ok(Vec::new());
    }
    let ca = Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(CA_SECRET)
        .await?;
    let mut leaves = BTreeMap::new();
    for req in &plan.certificates {
        if let Some(s) = Api::<Secret>::namespaced(client.clone(), &req.namespace)
            .get_opt(&req.secret)
            .await?
        {
            leaves.insert((req.namespace.clone(), req.secret.clone()), s);
        }
    }
    desired(plan, ns, &Existing { ca, leaves }, Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> CertPlan {
        CertPlan {
            certificates: vec![CertRequest {
                secret: "flowlogs-pipeline-cert".into(),
                namespace: "netobserv".into(),
                common_name: "flowlogs-pipeline.netobserv.svc".into(),
                dns_names: vec!["flowlogs-pipeline.netobserv.svc".into()],
            }],
            bundle_namespaces: vec!["netobserv-privileged".into()],
        }
    }

    fn as_existing(objects: &[Object]) -> Existing {
        let mut existing = Existing::default();
        for o in objects {
            if let Object::Secret(s) = o {
                let key = (
                    s.metadata.namespace.clone().unwrap_or_default(),
                    s.metadata.name.clone().unwrap_or_default(),
                );
                if key.1 == CA_SECRET {
                    existing.ca = Some(s.clone());
                } else {
                    existing.leaves.insert(key, s.clone());
                }
            }
        }
        existing
    }

    fn secret<'a>(objects: &'a [Object], name: &str) -> &'a Secret {
        objects
            .iter()
            .find_map(|o| match o {
                Object::Secret(s) if s.metadata.name.as_deref() == Some(name) => Some(s),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no Secret {name}"))
    }

    fn bundle(objects: &[Object]) -> String {
        objects
            .iter()
            .find_map(|o| match o {
                Object::ConfigMap(c) => c.data.as_ref()?.get(CA_BUNDLE_KEY).cloned(),
                _ => None,
            })
            .expect("bundle")
    }

    #[test]
    fn issues_once_then_keeps_the_same_material() {
        let now = Timestamp::now();
        let first = desired(&plan(), "netobserv", &Existing::default(), now).expect("issued");
        assert_eq!(first.len(), 3, "CA, bundle, leaf");
        let again = desired(&plan(), "netobserv", &as_existing(&first), now + DAY).expect("kept");
        assert_eq!(
            secret(&first, "flowlogs-pipeline-cert").data,
            secret(&again, "flowlogs-pipeline-cert").data
        );
        assert_eq!(
            secret(&first, CA_SECRET).data,
            secret(&again, CA_SECRET).data
        );
        assert_eq!(bundle(&first), bundle(&again));
    }

    #[test]
    fn leaves_renew_before_expiry_and_when_their_names_change() {
        let now = Timestamp::now();
        let first = desired(&plan(), "netobserv", &Existing::default(), now).expect("issued");
        let later = now + (LEAF_LIFETIME - LEAF_RENEW_BEFORE) + DAY;
        let renewed = desired(&plan(), "netobserv", &as_existing(&first), later).expect("renewed");
        assert_ne!(
            secret(&first, "flowlogs-pipeline-cert").data,
            secret(&renewed, "flowlogs-pipeline-cert").data
        );
        assert_eq!(
            secret(&first, CA_SECRET).data,
            secret(&renewed, CA_SECRET).data,
            "same CA"
        );
        let mut moved = plan();
        moved.certificates[0].dns_names = vec!["flowlogs-pipeline.elsewhere.svc".into()];
        let reissued = desired(&moved, "netobserv", &as_existing(&first), now).expect("reissued");
        assert_ne!(
            secret(&first, "flowlogs-pipeline-cert").data,
            secret(&reissued, "flowlogs-pipeline-cert").data
        );
    }

    #[test]
    fn a_rotated_ca_stays_trusted_until_it_expires() {
        let now = Timestamp::now();
        let first = desired(&plan(), "netobserv", &Existing::default(), now).expect("issued");
        let old_ca = bundle(&first);
        let later = now + (CA_LIFETIME - CA_RENEW_BEFORE) + DAY;
        let rotated = desired(&plan(), "netobserv", &as_existing(&first), later).expect("rotated");
        let both = bundle(&rotated);
        assert!(both.starts_with("-----BEGIN CERTIFICATE-----") && both.contains(&old_ca));
        assert_eq!(both.matches("BEGIN CERTIFICATE").count(), 2);
        assert_ne!(
            secret(&first, "flowlogs-pipeline-cert").data,
            secret(&rotated, "flowlogs-pipeline-cert").data,
            "leaves follow the new CA"
        );
        let expired = later + CA_LIFETIME;
        let after = desired(&plan(), "netobserv", &as_existing(&rotated), expired).expect("again");
        assert!(!bundle(&after).contains(&old_ca));
    }

    #[test]
    fn nothing_to_issue_is_nothing_applied() {
        let out = desired(
            &CertPlan::default(),
            "netobserv",
            &Existing::default(),
            Timestamp::now(),
        );
        assert!(out.expect("empty").is_empty());
    }
}
