//! Request authorisation (`server.authCheck`): `none` serves everyone; `authenticated` needs a
//! bearer token the API server accepts (TokenReview); `admin` also needs the right to list
//! namespaces cluster-wide (SubjectAccessReview); `denyAll` refuses everything. Verdicts are
//! cached per token for a minute so a page load does not cost one review per request. Users
//! who are not admins see one namespace at a time (`tenancy`).

use crate::api::{ApiError, AppState};
use crate::config::AuthCheck;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, UserInfo};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a verdict is reused.
const CACHE_FOR: Duration = Duration::from_secs(60);

/// Who a token belongs to, as the API server said.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    /// User name.
    pub user: String,
    /// Whether the user may list namespaces cluster-wide.
    pub admin: bool,
    /// The user as the TokenReview gave it (groups, uid, extra), for later access reviews.
    pub info: UserInfo,
}

/// Verdicts by key, each reused for [`CACHE_FOR`] after it was given.
struct Verdicts<V>(Mutex<HashMap<String, (Instant, V)>>);

impl<V: Clone> Default for Verdicts<V> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<V: Clone> Verdicts<V> {
    /// The verdict on `key`, while it is fresh.
    fn get(&self, key: &str) -> Option<V> {
        let cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `verdict` on `key`, dropping the stale ones.
    fn put(&self, key: String, verdict: V) {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
        cache.insert(key, (Instant::now(), verdict));
    }
}

/// Checks tokens against the API server, with a cache.
#[derive(Clone)]
pub struct Reviewer {
    client: kube::Client,
    /// Who each token is (refusals too).
    tokens: Arc<Verdicts<Result<Identity, String>>>,
    /// Namespace access by user and namespace.
    namespaces: Arc<Verdicts<bool>>,
}

impl Reviewer {
    /// A reviewer using `client`.
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            tokens: Arc::default(),
            namespaces: Arc::default(),
        }
    }

    /// Who `token` is, or why it is refused.
    pub async fn review(&self, token: &str) -> Result<Identity, String> {
        if let Some(verdict) = self.tokens.get(token) {
            return verdict;
        }
        let verdict = self.ask(token).await;
        self.tokens.put(token.to_string(), verdict.clone());
        verdict
    }

    async fn ask(&self, token: &str) -> Result<Identity, String> {
        let reviews: kube::Api<TokenReview> = kube::Api::all(self.client.clone());
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                ..TokenReviewSpec::default()
            },
            ..TokenReview::default()
        };
        let answer = reviews
            .create(&kube::api::PostParams::default(), &review)
            .await
            .map_err(|e| format!("TokenReview failed: {e}"))?;
        let status = answer.status.unwrap_or_default();
        if status.authenticated != Some(true) {
            return Err(status
                .error
                .unwrap_or_else(|| "the token is not authenticated".into()));
        }
        let info = status.user.unwrap_or_default();
        let name = info.username.clone().unwrap_or_default();
        let admin = self
            .allowed(
                &info,
                ResourceAttributes {
                    verb: Some("list".into()),
                    resource: Some("namespaces".into()),
                    ..ResourceAttributes::default()
                },
            )
            .await?;
        Ok(Identity {
            user: name,
            admin,
            info,
        })
    }

    /// Whether `user` may do `what` (a SubjectAccessReview).
    async fn allowed(&self, user: &UserInfo, what: ResourceAttributes) -> Result<bool, String> {
        let access: kube::Api<SubjectAccessReview> = kube::Api::all(self.client.clone());
        let sar = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username.clone(),
                groups: user.groups.clone(),
                uid: user.uid.clone(),
                extra: user.extra.clone(),
                resource_attributes: Some(what),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        Ok(access
            .create(&kube::api::PostParams::default(), &sar)
            .await
            .map_err(|e| format!("SubjectAccessReview failed: {e}"))?
            .status
            .is_some_and(|s| s.allowed))
    }

    /// Whether `id` may see namespace `ns`'s traffic: it may get the pods there (what the
    /// console's developer perspective needs to show the namespace). Cached like tokens.
    pub async fn can_view(&self, id: &Identity, ns: &str) -> Result<bool, String> {
        let key = format!("{}\u{0}{ns}", id.user);
        if let Some(verdict) = self.namespaces.get(&key) {
            return Ok(verdict);
        }
        let verdict = self
            .allowed(
                &id.info,
                ResourceAttributes {
                    verb: Some("get".into()),
                    resource: Some("pods".into()),
                    namespace: Some(ns.to_string()),
                    ..ResourceAttributes::default()
                },
            )
            .await?;
        self.namespaces.put(key, verdict);
        Ok(verdict)
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty())
}

pub(crate) fn refuse(status: StatusCode, message: String) -> Response {
    ApiError { status, message }.into_response()
}

/// The middleware: lets a request through or answers 401 / 403 naming why.
pub async fn check(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    match s.auth {
        AuthCheck::None | AuthCheck::Auto => next.run(req).await,
        AuthCheck::DenyAll => refuse(
            StatusCode::FORBIDDEN,
            "authCheck is denyAll: every request is refused".into(),
        ),
        mode @ (AuthCheck::Authenticated | AuthCheck::Admin) => {
            let Some(reviewer) = &s.reviewer else {
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "authCheck needs the Kubernetes API, which is not reachable from this process"
                        .into(),
                );
            };
            let Some(token) = bearer(req.headers()) else {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "a bearer token is required (Authorization: Bearer ...)".into(),
                );
            };
            match reviewer.review(token).await {
                Err(e) => refuse(StatusCode::UNAUTHORIZED, format!("token refused: {e}")),
                Ok(id) if mode == AuthCheck::Admin && !id.admin => refuse(
                    StatusCode::FORBIDDEN,
                    format!(
                        "user {} is not an admin (cannot list namespaces cluster-wide), and authCheck is admin",
                        id.user
                    ),
                ),
                Ok(id) => crate::tenancy::enforce(reviewer, &id, req, next).await,
            }
        }
    }
}

/// Whether the caller is an admin, for `/role`.
pub async fn is_admin(s: &AppState, headers: &HeaderMap) -> bool {
    match (s.auth, &s.reviewer, bearer(headers)) {
        (AuthCheck::None | AuthCheck::Auto, _, _) => true,
        (_, Some(r), Some(t)) => r.review(t).await.is_ok_and(|id| id.admin),
        _ => false,
    }
}
