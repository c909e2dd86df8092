//! Scraping the agents' metrics endpoints. In a cluster the requests go through the API
//! server's pod proxy (`/api/v1/namespaces/NS/pods/POD:PORT/proxy/metrics`) with the user's
//! credentials; the same [`scrape`] reads any endpoint a [`kube::Client`] points at (tests point
//! one straight at a pipeline's `/metrics`).

use super::exposition::{self, Parsed};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};

/// Why a scrape failed.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The request could not be built.
    #[error("bad request for {path}: {source}")]
    Request {
        /// The path.
        path: String,
        /// Why.
        source: http::Error,
    },
    /// The endpoint (or the API server) answered with an error, or not at all.
    #[error("{path}: {source}")]
    Get {
        /// The path.
        path: String,
        /// Why.
        source: kube::Error,
    },
}

/// The pod-proxy path of an agent's metrics endpoint.
pub fn pod_proxy_path(namespace: &str, pod: &str, port: u16) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy/metrics")
}

/// Reads the exposition at `path`.
pub async fn scrape(client: &Client, path: &str) -> Result<Parsed, ScrapeError> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|source| ScrapeError::Request {
            path: path.to_string(),
            source,
        })?;
    let text = client
        .request_text(request)
        .await
        .map_err(|source| ScrapeError::Get {
            path: path.to_string(),
            source,
        })?;
    Ok(exposition::parse(&text))
}

/// The running agent pods of a capture: those of `namespace` matching the label `selector`
/// (the caller passes the agents' label, `app=netobserv-cli`, so this module needs nothing
/// from the renderer, which itself reads [`super::flp`]).
pub async fn agent_pods(
    client: &Client,
    namespace: &str,
    selector: &str,
) -> Result<Vec<String>, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = pods.list(&ListParams::default().labels(selector)).await?;
    Ok(list
        .items
        .into_iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .filter_map(|p| p.metadata.name)
        .collect())
}

/// One round of scrapes: every agent's exposition at one time.
#[derive(Debug, Default)]
pub struct Round {
    /// Seconds since the capture started.
    pub t: f64,
    /// (agent pod, its exposition) for each agent that answered.
    pub scrapes: Vec<(String, Parsed)>,
    /// Agents that did not answer (or could not be listed) this round.
    pub failures: u64,
}

/// Scrapes every running agent of `namespace` (label `selector`) through the pod proxy.
pub async fn round(client: &Client, namespace: &str, selector: &str, t: f64) -> Round {
    let mut out = Round {
        t,
        ..Round::default()
    };
    let pods = match agent_pods(client, namespace, selector).await {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(%e, "cannot list the agents");
            out.failures += 1;
            return out;
        }
    };
    let scrapes = pods.into_iter().map(|pod| async move {
        let path = pod_proxy_path(namespace, &pod, super::flp::METRICS_PORT);
        (pod, scrape(client, &path).await)
    });
    for (pod, result) in futures::future::join_all(scrapes).await {
        match result {
            Ok(parsed) => out.scrapes.push((pod, parsed)),
            Err(e) => {
                tracing::debug!(%e, "scrape failed");
                out.failures += 1;
            }
        }
    }
    out
}

/// Scrapes every `every` until `rounds` closes.
pub async fn run(
    client: Client,
    namespace: String,
    selector: String,
    every: std::time::Duration,
    rounds: tokio::sync::mpsc::Sender<Round>,
) {
    let started = std::time::Instant::now();
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let r = round(
            &client,
            &namespace,
            &selector,
            started.elapsed().as_secs_f64(),
        )
        .await;
        if rounds.send(r).await.is_err() {
            return;
        }
    }
}
