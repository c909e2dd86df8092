//! The fake API server through a real kube client over HTTP: each test pins one behaviour of
//! kube-apiserver (v1.32) that the fake must reproduce.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use netobserv_fake_apiserver::FakeApiServer;
use serde_json::{Value, json};

fn crd(default_kafka: Value) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.io"},
        "spec": {
            "group": "example.io", "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                 "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "default": {}, "properties": {
                        "mode": {"type": "string", "enum": ["A", "B"], "default": "A"},
                        "kafka": {"type": "object", "default": default_kafka, "required": ["address"],
                                  "properties": {"address": {"type": "string", "default": ""}}},
                        "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "frozen"}]}
                    }},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                 }}}},
                {"name": "v0", "served": true, "storage": false,
                 "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"mode": {"type": "string", "enum": ["OLD_A", "OLD_B"]}}}
                 }}}}
            ]
        }
    })
}

fn widgets(client: &kube::Client, version: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.io", version, "Widget"),
        "widgets",
    );
    Api::all_with(client.clone(), &ar)
}

#[tokio::test]
async fn crd_with_an_invalid_default_is_refused_with_the_api_servers_words() {
    let fake = FakeApiServer::start().await.expect("starts");
    let err = fake.create(crd(json!({}))).expect_err("refused");
    assert_eq!(err.code, 422);
    assert!(
        err.message().contains("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[kafka].default.address: Required value"),
        "{}",
        err.message()
    );
    fake.create(crd(json!({"address": ""})))
        .expect("accepted once the default is valid");
}

#[tokio::test]
async fn custom_resources_are_pruned_defaulted_validated_and_frozen_fields_hold() {
    let fake = FakeApiServer::start().await.expect("starts");
    fake.create(crd(json!({"address": ""}))).expect("crd");
    let api = widgets(&fake.client(), "v1");
    let mut w: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"unknown": 1, "name": "first"}
    }))
    .expect("object");
    let created = api
        .create(&PostParams::default(), &w)
        .await
        .expect("created");
    assert_eq!(
        created.data["spec"],
        json!({"mode": "A", "kafka": {"address": ""}, "name": "first"})
    );
    assert_eq!(created.metadata.generation, Some(1));

    w.data["spec"] = json!({"mode": "C"});
    let err = api.create(&PostParams::default(), &serde_json::from_value(json!({
        "apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "bad"}, "spec": {"mode": "C"}
    })).expect("object")).await.expect_err("enum refused");
    assert!(
        matches!(err, kube::Error::Api(ref e) if e.code == 422),
        "{err}"
    );

    let patch = json!({"spec": {"name": "second"}});
    let err = api
        .patch("w", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect_err("frozen");
    assert!(err.to_string().contains("frozen"), "{err}");
}

#[tokio::test]
async fn objects_written_in_an_old_version_are_served_unconverted() {
    let fake = FakeApiServer::start().await.expect("starts");
    fake.create(crd(json!({"address": ""}))).expect("crd");
    let old = widgets(&fake.client(), "v0");
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.io/v0", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"mode": "OLD_A"}
    }))
    .expect("object");
    old.create(&PostParams::default(), &obj)
        .await
        .expect("created through v0");
    let seen = widgets(&fake.client(), "v1")
        .get("w")
        .await
        .expect("served as v1");
    assert_eq!(seen.types.expect("types").api_version, "example.io/v1");
    assert_eq!(
        seen.data["spec"]["mode"], "OLD_A",
        "strategy None converts nothing"
    );
}

fn policy(ingress: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "p", "namespace": "default"},
           "spec": {"podSelector": {}, "ingress": ingress, "policyTypes": ["Ingress"]}})
}

#[tokio::test]
async fn an_empty_list_is_dropped_and_applying_it_again_is_a_change() {
    let fake = FakeApiServer::start().await.expect("starts");
    let api: Api<NetworkPolicy> = Api::namespaced(fake.client(), "default");
    let pp = PatchParams::apply("test").force();
    let first = api
        .patch("p", &pp, &Patch::Apply(policy(json!([]))))
        .await
        .expect("applied");
    let stored = fake
        .get("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/p")
        .expect("stored");
    assert!(stored["spec"].get("ingress").is_none(), "{stored}");
    assert_eq!(
        stored["spec"]["podSelector"],
        json!({}),
        "empty structs stay"
    );
    let second = api
        .patch("p", &pp, &Patch::Apply(policy(json!([]))))
        .await
        .expect("applied");
    assert_eq!(
        (first.metadata.generation, second.metadata.generation),
        (Some(1), Some(2)),
        "re-applying the pruned form bumps the generation"
    );
    let rule = json!([{"from": [{"namespaceSelector": {}}]}]);
    let a = api
        .patch("p", &pp, &Patch::Apply(policy(rule.clone())))
        .await
        .expect("applied");
    let b = api
        .patch("p", &pp, &Patch::Apply(policy(rule)))
        .await
        .expect("applied");
    assert_eq!(
        a.metadata.resource_version, b.metadata.resource_version,
        "a no-op apply writes nothing"
    );
    assert_eq!(a.metadata.generation, b.metadata.generation);
}

#[tokio::test]
async fn apply_removes_fields_the_manager_stopped_setting_and_keeps_others() {
    let fake = FakeApiServer::start().await.expect("starts");
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "default");
    let cm = |data: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "c", "namespace": "default"}, "data": data})
    };
    let pp = PatchParams::apply("op").force();
    api.patch("c", &pp, &Patch::Apply(cm(json!({"a": "1", "b": "2"}))))
        .await
        .expect("apply");
    api.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"user": "x"}})),
    )
    .await
    .expect("merge");
    let after = api
        .patch("c", &pp, &Patch::Apply(cm(json!({"a": "1"}))))
        .await
        .expect("apply");
    let data = after.data.expect("data");
    assert_eq!(data.get("b"), None, "the manager's dropped field goes");
    assert_eq!(
        data.get("user").map(String::as_str),
        Some("x"),
        "another writer's field stays"
    );
}

#[tokio::test]
async fn missing_namespace_unknown_group_and_gc() {
    let fake = FakeApiServer::start().await.expect("starts");
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "nowhere");
    let err = api
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: kube::api::ObjectMeta {
                    name: Some("c".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect_err("namespace missing");
    assert!(
        matches!(err, kube::Error::Api(ref e) if e.code == 404),
        "{err}"
    );

    let missing = widgets(&fake.client(), "v1")
        .list(&Default::default())
        .await
        .expect_err("no CRD");
    assert!(err_code(&missing) == Some(404), "{missing}");

    let owner = fake.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner", "namespace": "default"}})).expect("owner");
    let uid = owner["metadata"]["uid"].clone();
    fake.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "child", "namespace": "default",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]}})).expect("child");
    fake.delete("/api/v1/namespaces/default/configmaps/owner")
        .expect("deleted");
    assert!(
        fake.get("/api/v1/namespaces/default/configmaps/child")
            .is_none(),
        "dependents are collected"
    );
}

fn err_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(r) => Some(r.code),
        _ => None,
    }
}

#[tokio::test]
async fn failing_webhooks_block_writes_of_the_kinds_they_match() {
    let fake = FakeApiServer::start().await.expect("starts");
    fake.create(crd(json!({"address": ""}))).expect("crd");
    fake.create(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "v"},
        "webhooks": [{"name": "w.example.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "clientConfig": {"service": {"name": "webhook", "namespace": "default", "path": "/validate"}},
            "rules": [{"apiGroups": ["example.io"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["widgets"]}]}]
    })).expect("webhook configuration");
    let err = fake
        .create(json!({"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}}))
        .expect_err("blocked");
    assert_eq!(err.code, 500);
    let obj: DynamicObject = serde_json::from_value(
        json!({"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "x"}}),
    )
    .expect("obj");
    let err = widgets(&fake.client(), "v1")
        .create(&PostParams::default(), &obj)
        .await
        .expect_err("blocked");
    assert!(
        err.to_string()
            .contains("no endpoints available for service \"default/webhook\""),
        "{err}"
    );
}

#[tokio::test]
async fn watches_replay_from_a_resource_version_and_stream_changes() {
    let fake = FakeApiServer::start().await.expect("starts");
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "default");
    let list = api.list(&Default::default()).await.expect("list");
    let rv = list.metadata.resource_version.expect("rv");
    let stream = api
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .expect("watch");
    fake.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}})).expect("a");
    fake.delete("/api/v1/namespaces/default/configmaps/a")
        .expect("deleted");
    let events: Vec<WatchEvent<ConfigMap>> = stream.take(2).try_collect().await.expect("events");
    assert!(
        matches!(&events[0], WatchEvent::Added(c) if c.metadata.name.as_deref() == Some("a")),
        "{events:?}"
    );
    assert!(matches!(&events[1], WatchEvent::Deleted(_)), "{events:?}");
}

/// kube's metadata watchers ask for `PartialObjectMetadata[List]` in `Accept`: the answer holds
/// the metadata alone, typed as such, for lists and watch events; another `as=` is refused (406).
#[tokio::test]
async fn metadata_only_lists_and_watches_and_unknown_media_types_are_refused() {
    let fake = FakeApiServer::start().await.expect("starts");
    fake.create(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "default", "labels": {"x": "y"}}, "data": {"k": "v"}}))
        .expect("a");
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "default");
    let list = api
        .list_metadata(&Default::default())
        .await
        .expect("metadata list");
    assert_eq!(list.types.kind, "PartialObjectMetadataList");
    assert_eq!(list.items[0].metadata.name.as_deref(), Some("a"));
    let rv = list.metadata.resource_version.expect("rv");
    let raw = |accept: &str| {
        http::Request::get("/api/v1/namespaces/default/configmaps")
            .header("Accept", accept)
            .body(Vec::new())
            .expect("request")
    };
    let text = fake
        .client()
        .request_text(raw(
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        ))
        .await
        .expect("list");
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["items"][0]["kind"], "PartialObjectMetadata", "{body}");
    assert!(body["items"][0].get("data").is_none(), "{body}");
    let refused = fake
        .client()
        .request_text(raw("application/json;as=Table;g=meta.k8s.io;v=v1"))
        .await
        .expect_err("refused");
    assert!(
        matches!(&refused, kube::Error::Api(s) if s.code == 406),
        "{refused}"
    );
    let stream = api
        .watch_metadata(&WatchParams::default().timeout(5), &rv)
        .await
        .expect("watch");
    fake.create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "default"}, "data": {"k": "v"}}))
        .expect("b");
    let events: Vec<_> = stream.take(1).try_collect().await.expect("events");
    assert!(
        matches!(&events[0], WatchEvent::Added(m) if m.metadata.name.as_deref() == Some("b")
            && m.types.as_ref().is_some_and(|t| t.kind == "PartialObjectMetadata")),
        "{events:?}"
    );
}

/// With a bearer token required, as a cluster requires of a service account: the right token
/// reads, a wrong one is 401 `Unauthorized` everywhere, and no credentials at all is
/// `system:anonymous`, which may read `/version` but gets 403 on resources.
#[tokio::test]
async fn a_required_bearer_token_is_enforced_as_a_cluster_does() {
    let server = FakeApiServer::start_with(netobserv_fake_apiserver::Options {
        addr: None,
        bearer_token: Some("s3cret".to_string()),
    })
    .await
    .expect("start");
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::all(server.client());
    pods.list(&Default::default())
        .await
        .expect("the right token lists");
    assert!(
        server.kubeconfig().contains("token: \"s3cret\""),
        "{}",
        server.kubeconfig()
    );

    let wrong = {
        let mut config = kube::Config::new(server.url().parse().expect("url"));
        config.auth_info.token = Some("nope".to_string().into());
        kube::Client::try_from(config).expect("client")
    };
    let err = Api::<k8s_openapi::api::core::v1::Pod>::all(wrong.clone())
        .list(&Default::default())
        .await
        .expect_err("a wrong token is refused");
    assert_eq!(err_code(&err), Some(401), "{err}");
    let err = wrong
        .apiserver_version()
        .await
        .expect_err("a wrong token is refused even for /version");
    assert_eq!(err_code(&err), Some(401), "{err}");

    let anonymous = kube::Client::try_from(kube::Config::new(server.url().parse().expect("url")))
        .expect("client");
    anonymous
        .apiserver_version()
        .await
        .expect("anonymous reads /version");
    let err = Api::<k8s_openapi::api::core::v1::Pod>::all(anonymous)
        .list(&Default::default())
        .await
        .expect_err("anonymous cannot list");
    assert_eq!(err_code(&err), Some(403), "{err}");
    assert!(err.to_string().contains("system:anonymous"), "{err}");
}
