//! Leader election with a `coordination.k8s.io/v1` Lease, so that a second operator replica
//! stands by instead of fighting over the same objects.

use crate::error::Result;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, PostParams};

/// Name of the Lease (the upstream operator's leader-election ID).
pub const LEASE_NAME: &str = "7a7ecdcd.netobserv.io";

/// One contender for the Lease.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    identity: String,
    /// How long a holder keeps the Lease without renewing it.
    pub lease_duration: SignedDuration,
}

impl LeaderElector {
    /// A contender in `namespace` with a unique `identity` (the pod name).
    pub fn new(client: Client, namespace: &str, identity: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            identity: identity.to_string(),
            lease_duration: SignedDuration::from_secs(15),
        }
    }

    fn spec(&self, now: Timestamp, transitions: i32, acquired: Option<MicroTime>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: i32::try_from(self.lease_duration.as_secs()).ok(),
            acquire_time: Some(acquired.unwrap_or(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Takes or renews the Lease. Ok(true) when this process holds it afterwards; Ok(false) when
    /// another live holder has it or a concurrent writer won the race.
    pub async fn try_acquire_or_renew(&self) -> Result<bool> {
        let now = Timestamp::now();
        let current = self.api.get_opt(LEASE_NAME).await?;
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(LEASE_NAME.to_string()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, 0, None)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e.into()),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let mine = holder == self.identity;
        let expired = spec.renew_time.as_ref().is_none_or(|t| {
            let duration = spec
                .lease_duration_seconds
                .map_or(self.lease_duration, |s| {
                    SignedDuration::from_secs(i64::from(s))
                });
            t.0 + duration < now
        });
        if !mine && !holder.is_empty() && !expired {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!mine);
        let acquired = if mine {
            spec.acquire_time.clone()
        } else {
            None
        };
        lease.spec = Some(self.spec(now, transitions, acquired));
        match self
            .api
            .replace(LEASE_NAME, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
