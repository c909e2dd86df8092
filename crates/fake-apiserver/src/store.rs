//! The object store and the write path: resource versions, generations, status subresources,
//! server-side apply with per-manager field ownership, the normalisation a real server does on
//! write, namespace existence, cascading deletion, and the event history watches replay.

use crate::admission::{self, Operation};
use crate::kinds::{Kind, Schema};
use crate::status::{self, Failure};
use crate::{omitempty, schema, structural};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Store key: (group, plural, namespace, name). Versions share one object.
pub type Key = (String, String, Option<String>, String);

/// What a watch event says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Deleted.
    Deleted,
}

impl Change {
    /// The watch event `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One entry of the history watches replay.
#[derive(Clone, Debug)]
pub struct Event {
    /// Resource version of the change.
    pub rv: u64,
    /// What happened.
    pub change: Change,
    /// Which object.
    pub key: Key,
    /// The object as stored after the change (before it, for deletions).
    pub object: Value,
}

#[derive(Clone, Debug, Default)]
struct Stored {
    value: Value,
    /// Field paths each server-side-apply manager owns (lists are atomic).
    owned: BTreeMap<String, BTreeSet<Vec<String>>>,
}

/// Everything the fake holds.
pub struct Store {
    kinds: Vec<Kind>,
    objects: BTreeMap<Key, Stored>,
    rv: u64,
    uid: u64,
    history: Vec<Event>,
}

/// How a write arrives.
#[derive(Clone, Debug)]
pub enum Write {
    /// POST.
    Create,
    /// PUT (optimistic concurrency on `resourceVersion` when given).
    Replace,
    /// JSON merge patch (also used for strategic merge patches: close enough for maps).
    Merge,
    /// Server-side apply by `manager`.
    Apply {
        /// `fieldManager`.
        manager: String,
    },
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Store {
    /// A store with the built-in kinds and the namespaces every cluster has.
    pub fn new() -> Self {
        let mut store = Self {
            kinds: crate::kinds::builtin(),
            objects: BTreeMap::new(),
            rv: 1,
            uid: 0,
            history: Vec::new(),
        };
        for ns in ["default", "kube-system", "kube-public"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            let _ = store.insert_raw(obj);
        }
        store
    }

    /// The current resource version.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// All kinds served (for discovery).
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// The kind served at `group/version/plural`.
    pub fn kind(&self, group: &str, version: &str, plural: &str) -> Option<&Kind> {
        self.kinds.iter().find(|k| {
            k.group == group && k.plural == plural && k.versions.iter().any(|v| v == version)
        })
    }

    /// The kind of an object's `apiVersion` + `kind`.
    pub fn kind_of(&self, api_version: &str, kind: &str) -> Option<Kind> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.kinds
            .iter()
            .find(|k| k.group == group && k.kind == kind && k.versions.iter().any(|v| v == version))
            .cloned()
    }

    /// Every stored object, keyed `group/plural/namespace/name`.
    pub fn snapshot(&self) -> BTreeMap<String, Value> {
        self.objects
            .iter()
            .map(|((g, p, n, name), s)| {
                (
                    format!("{g}/{p}/{}/{name}", n.as_deref().unwrap_or("")),
                    s.value.clone(),
                )
            })
            .collect()
    }

    /// Every admission webhook configuration (validating and mutating).
    pub fn list_webhooks(&self) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((g, p, _, _), _)| {
                g == "admissionregistration.k8s.io"
                    && (p == "validatingwebhookconfigurations"
                        || p == "mutatingwebhookconfigurations")
            })
            .map(|(_, s)| s.value.clone())
            .collect()
    }

    /// Events after `rv`, oldest first.
    pub fn events_after(&self, rv: u64) -> impl Iterator<Item = &Event> {
        let start = self.history.partition_point(|e| e.rv <= rv);
        self.history[start..].iter()
    }

    /// One stored object, served at `version`.
    pub fn get(&self, kind: &Kind, version: &str, ns: Option<&str>, name: &str) -> Option<Value> {
        let key = key(kind, ns, name);
        self.objects
            .get(&key)
            .map(|s| serve(kind, version, &s.value))
    }

    /// The stored objects of a kind (all namespaces when `ns` is None), served at `version`.
    pub fn list(&self, kind: &Kind, version: &str, ns: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((g, p, n, _), _)| {
                *g == kind.group && *p == kind.plural && (ns.is_none() || n.as_deref() == ns)
            })
            .map(|(_, s)| serve(kind, version, &s.value))
            .collect()
    }

    /// Stores an object as given, bypassing validation and normalisation: the way to seed what a
    /// real server could hold but the fake's write path would refuse (an object written by an
    /// older CRD version, a pod with status).
    pub fn insert_raw(&mut self, mut obj: Value) -> Result<Value, Failure> {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind_name = obj["kind"].as_str().unwrap_or_default().to_string();
        let kind = self
            .kind_of(&api_version, &kind_name)
            .ok_or_else(|| status::not_found_kind(&api_version, &kind_name))?;
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ns = obj["metadata"]["namespace"].as_str().map(str::to_string);
        let key = key(&kind, ns.as_deref(), &name);
        let previous = self.objects.get(&key).cloned();
        self.stamp(&kind, &mut obj, previous.as_ref().map(|p| &p.value), true);
        let change = if previous.is_some() {
            Change::Modified
        } else {
            Change::Added
        };
        self.commit(&kind, key, obj.clone(), Default::default(), change);
        Ok(obj)
    }

    /// Creates, replaces, patches or applies an object through the checks a real server makes.
    /// Returns the HTTP status and the stored object (served at `version`).
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &mut self,
        kind: &Kind,
        version: &str,
        ns: Option<&str>,
        name: Option<&str>,
        body: Value,
        how: Write,
        status_only: bool,
    ) -> Result<(u16, Value), Failure> {
        if kind.namespaced {
            let ns = ns.ok_or_else(|| {
                status::bad_request("the namespace is required for a namespaced kind")
            })?;
            let ns_key = (
                "".to_string(),
                "namespaces".to_string(),
                None,
                ns.to_string(),
            );
            if !self.objects.contains_key(&ns_key) {
                return Err(status::not_found("namespaces", ns));
            }
        }
        let body_name = body["metadata"]["name"].as_str().map(str::to_string);
        let name = match (name, &body_name, &how) {
            (Some(url), Some(b), _) if url != b => {
                return Err(status::bad_request(&format!(
                    "the name of the object ({b}) does not match the name on the URL ({url})"
                )));
            }
            (Some(url), _, _) => url.to_string(),
            (None, Some(b), _) => b.clone(),
            (None, None, Write::Create) => match body["metadata"]["generateName"].as_str() {
                Some(prefix) => format!("{prefix}{:05x}", self.uid + 1),
                None => {
                    return Err(status::invalid(
                        kind,
                        "",
                        vec![
                            "metadata.name: Required value: name or generateName is required"
                                .into(),
                        ],
                    ));
                }
            },
            (None, None, _) => return Err(status::bad_request("a name is required")),
        };
        check_name(kind, &name)?;
        let key = key(kind, ns, &name);
        let previous = self.objects.get(&key).cloned();
        if matches!(how, Write::Create) && previous.is_some() {
            return Err(status::already_exists(kind, &name));
        }
        if matches!(how, Write::Replace | Write::Merge) && previous.is_none() {
            return Err(status::not_found(&kind.plural, &name));
        }
        if status_only && previous.is_none() {
            return Err(status::not_found(&kind.plural, &name));
        }
        let op = if previous.is_some() {
            Operation::Update
        } else {
            Operation::Create
        };
        if let Some(refused) =
            admission::check(&self.list_webhooks(), kind, version, status_only, op)
                .or_else(|| admission::conversion(kind, version))
        {
            return Err(refused);
        }
        check_type(kind, version, &body)?;
        if matches!(how, Write::Replace)
            && let (Some(sent), Some(prev)) =
                (body["metadata"]["resourceVersion"].as_str(), &previous)
            && Some(sent) != prev.value["metadata"]["resourceVersion"].as_str()
        {
            return Err(status::conflict(kind, &name));
        }
        let mut owned = previous
            .as_ref()
            .map(|p| p.owned.clone())
            .unwrap_or_default();
        let prev_value = previous.as_ref().map(|p| serve(kind, version, &p.value));
        let mut candidate = match (&how, &prev_value) {
            (Write::Create | Write::Replace, _) => body,
            (Write::Merge, prev) => {
                let mut merged = prev.clone().unwrap_or_default();
                merge_patch(&mut merged, &body);
                merged
            }
            (Write::Apply { manager }, prev) => {
                let mine = owned.entry(manager.clone()).or_default();
                let mut merged = prev.clone().unwrap_or_else(|| json!({}));
                for path in mine.iter() {
                    if !has_path(&body, path) {
                        remove_path(&mut merged, path);
                    }
                }
                *mine = leaf_paths(&body);
                deep_merge(&mut merged, &body);
                merged
            }
        };
        candidate["apiVersion"] = json!(kind.api_version(version));
        candidate["kind"] = json!(kind.kind);
        candidate["metadata"]["name"] = json!(name);
        if let Some(ns) = ns.filter(|_| kind.namespaced) {
            candidate["metadata"]["namespace"] = json!(ns);
        }
        if kind.has_status {
            // The main resource cannot change status; the status subresource can change nothing else.
            let old_status = prev_value.as_ref().and_then(|p| p.get("status")).cloned();
            if status_only {
                let new_status = candidate.get("status").cloned();
                candidate = prev_value.clone().unwrap_or_default();
                set_or_remove(&mut candidate, "status", new_status);
            } else {
                set_or_remove(&mut candidate, "status", old_status);
            }
        }
        self.finish_write(kind, version, key, previous, candidate, owned)
    }

    fn finish_write(
        &mut self,
        kind: &Kind,
        version: &str,
        key: Key,
        previous: Option<Stored>,
        mut candidate: Value,
        owned: BTreeMap<String, BTreeSet<Vec<String>>>,
    ) -> Result<(u16, Value), Failure> {
        let prev_value = previous.as_ref().map(|p| p.value.clone());
        match &kind.schema {
            Schema::Custom(custom) => {
                let schema = custom
                    .schema(version)
                    .ok_or_else(|| status::not_found(&kind.plural, version))?;
                schema::prune_object(&mut candidate, schema);
                schema::apply_defaults(&mut candidate, schema);
                let served_prev = prev_value.as_ref().map(|p| serve(kind, version, p));
                let mut errors: Vec<String> = schema::validate_value(schema, &candidate)
                    .into_iter()
                    .map(|e| e.trim_start_matches('.').to_string())
                    .filter(|e| !ratcheted(e, &candidate, served_prev.as_ref()))
                    .collect();
                errors.extend(crate::cel::transition_rules(
                    schema,
                    &candidate,
                    served_prev.as_ref(),
                )?);
                if !errors.is_empty() {
                    return Err(status::invalid(kind, &key.3, errors));
                }
                candidate["apiVersion"] = json!(kind.api_version(&custom.storage));
            }
            Schema::Builtin(_) if kind.kind == "CustomResourceDefinition" => {
                let errors = structural::check_crd(&candidate);
                if !errors.is_empty() {
                    return Err(status::invalid(kind, &key.3, errors));
                }
            }
            Schema::Builtin(_) => {}
        }
        let changed = match &prev_value {
            None => true,
            Some(prev) => without_server_fields(prev) != without_server_fields(&candidate),
        };
        if !changed {
            let prev = prev_value.unwrap_or_default();
            return Ok((200, serve(kind, version, &prev)));
        }
        let spec_changed = prev_value.as_ref().is_some_and(|prev| {
            without_meta_and_status(prev) != without_meta_and_status(&candidate)
        });
        if let Schema::Builtin(schema) = &kind.schema {
            omitempty::normalise(&mut candidate, schema());
        }
        self.stamp(kind, &mut candidate, prev_value.as_ref(), spec_changed);
        let (code, change) = if prev_value.is_some() {
            (200, Change::Modified)
        } else {
            (201, Change::Added)
        };
        if kind.kind == "CustomResourceDefinition" {
            self.register_crd(&candidate);
        }
        self.commit(kind, key, candidate.clone(), owned, change);
        // The garbage collector also removes objects created with owners that are already gone.
        self.collect_garbage();
        Ok((code, serve(kind, version, &candidate)))
    }

    /// Server-owned metadata: uid and creation time kept, resourceVersion bumped, generation
    /// bumped when anything but metadata and status changed.
    fn stamp(
        &mut self,
        kind: &Kind,
        obj: &mut Value,
        previous: Option<&Value>,
        spec_changed: bool,
    ) {
        self.rv += 1;
        let meta = &mut obj["metadata"];
        if let Some(prev) = previous {
            for field in ["uid", "creationTimestamp"] {
                meta[field] = prev["metadata"][field].clone();
            }
        } else {
            self.uid += 1;
            meta["uid"] = json!(format!("00000000-fake-0000-0000-{:012}", self.uid));
            meta["creationTimestamp"] = json!(now());
        }
        meta["resourceVersion"] = json!(self.rv.to_string());
        if kind.generation {
            let old = previous
                .and_then(|p| p["metadata"]["generation"].as_i64())
                .unwrap_or(0);
            let generation = if previous.is_none() || spec_changed {
                old + 1
            } else {
                old
            };
            meta["generation"] = json!(generation);
        } else if let Some(m) = meta.as_object_mut() {
            m.remove("generation");
        }
        if let Some(m) = meta.as_object_mut() {
            m.remove("managedFields");
        }
    }

    fn commit(
        &mut self,
        kind: &Kind,
        key: Key,
        value: Value,
        owned: BTreeMap<String, BTreeSet<Vec<String>>>,
        change: Change,
    ) {
        let _ = kind;
        self.history.push(Event {
            rv: self.rv,
            change,
            key: key.clone(),
            object: value.clone(),
        });
        self.objects.insert(key, Stored { value, owned });
    }

    /// Registers (or updates) the kind a stored CRD declares.
    fn register_crd(&mut self, crd: &Value) {
        if let Some(kind) = crate::kinds::from_crd(crd) {
            self.kinds
                .retain(|k| !(k.group == kind.group && k.plural == kind.plural));
            self.kinds.push(kind);
        }
    }

    /// Deletes an object; its dependents (owner references) and, for a namespace, everything in
    /// it go too, as the garbage collector and the namespace controller would.
    pub fn delete(
        &mut self,
        kind: &Kind,
        version: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, Failure> {
        let key = key(kind, ns, name);
        let Some(stored) = self.objects.get(&key).cloned() else {
            return Err(status::not_found(&kind.plural, name));
        };
        if let Some(refused) = admission::check(
            &self.list_webhooks(),
            kind,
            version,
            false,
            Operation::Delete,
        ) {
            return Err(refused);
        }
        self.remove(&key);
        if kind.kind == "CustomResourceDefinition"
            && let Some(gone) = crate::kinds::from_crd(&stored.value)
        {
            self.kinds
                .retain(|k| !(k.group == gone.group && k.plural == gone.plural));
            let instances: Vec<Key> = self
                .objects
                .keys()
                .filter(|(g, p, _, _)| *g == gone.group && *p == gone.plural)
                .cloned()
                .collect();
            instances.iter().for_each(|k| self.remove(k));
        }
        if kind.kind == "Namespace" && kind.group.is_empty() {
            let inside: Vec<Key> = self
                .objects
                .keys()
                .filter(|(_, _, n, _)| n.as_deref() == Some(name))
                .cloned()
                .collect();
            inside.iter().for_each(|k| self.remove(k));
        }
        self.collect_garbage();
        Ok(serve(kind, version, &stored.value))
    }

    fn remove(&mut self, key: &Key) {
        if let Some(stored) = self.objects.remove(key) {
            self.rv += 1;
            self.history.push(Event {
                rv: self.rv,
                change: Change::Deleted,
                key: key.clone(),
                object: stored.value,
            });
        }
    }

    /// Deletes objects whose owners are all gone, until nothing changes.
    fn collect_garbage(&mut self) {
        loop {
            let uids: BTreeSet<String> = self
                .objects
                .values()
                .filter_map(|s| s.value["metadata"]["uid"].as_str().map(str::to_string))
                .collect();
            let orphans: Vec<Key> = self
                .objects
                .iter()
                .filter(|(_, s)| {
                    let owners = s.value["metadata"]["ownerReferences"].as_array();
                    owners.is_some_and(|o| {
                        !o.is_empty()
                            && o.iter()
                                .all(|r| !r["uid"].as_str().is_some_and(|u| uids.contains(u)))
                    })
                })
                .map(|(k, _)| k.clone())
                .collect();
            if orphans.is_empty() {
                return;
            }
            orphans.iter().for_each(|k| self.remove(k));
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// Validation ratcheting (on by default since v1.30): on update, an error about a field whose
/// value did not change is not reported, so an object made invalid by a schema change (or stored
/// without conversion) can still have its status and other fields written.
fn ratcheted(error: &str, new: &Value, old: Option<&Value>) -> bool {
    let Some(old) = old else {
        return false;
    };
    let path = error.split_once(": ").map_or(error, |(p, _)| p);
    lookup(new, path) == lookup(old, path)
}

/// The value at an API field path (`spec.exporters[0].kafka`).
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = value;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, indexes) = part.split_once('[').map_or((part, ""), |(n, i)| (n, i));
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            cur = cur.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(cur)
}

/// Store key of an object.
pub fn key(kind: &Kind, ns: Option<&str>, name: &str) -> Key {
    (
        kind.group.clone(),
        kind.plural.clone(),
        ns.filter(|_| kind.namespaced).map(str::to_string),
        name.to_string(),
    )
}

/// An object as served at `version`: without a conversion webhook only `apiVersion` changes
/// (a field spelled the old way stays spelled the old way, as a real server does with
/// `strategy: None`); custom resources get their storage version's defaults on read.
pub fn serve(kind: &Kind, version: &str, stored: &Value) -> Value {
    let mut out = stored.clone();
    if let Schema::Custom(custom) = &kind.schema
        && let Some(schema) = custom.schema(&custom.storage)
    {
        schema::apply_defaults(&mut out, schema);
    }
    out["apiVersion"] = json!(kind.api_version(version));
    out
}

fn check_name(kind: &Kind, name: &str) -> Result<(), Failure> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(status::invalid(
            kind,
            name,
            vec![format!(
                "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
            )],
        ))
    }
}

fn check_type(kind: &Kind, version: &str, body: &Value) -> Result<(), Failure> {
    let expected = kind.api_version(version);
    let api_version = body["apiVersion"].as_str();
    let body_kind = body["kind"].as_str();
    if api_version.is_some_and(|a| a != expected) || body_kind.is_some_and(|k| k != kind.kind) {
        return Err(status::bad_request(&format!(
            "the API version in the data ({}) does not match the expected API version ({expected}) or the kind ({}) is not {}",
            api_version.unwrap_or_default(),
            body_kind.unwrap_or_default(),
            kind.kind
        )));
    }
    Ok(())
}

fn set_or_remove(obj: &mut Value, field: &str, value: Option<Value>) {
    if let Some(map) = obj.as_object_mut() {
        match value {
            Some(v) => {
                map.insert(field.to_string(), v);
            }
            None => {
                map.remove(field);
            }
        }
    }
}

fn without_server_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
            "managedFields",
        ] {
            meta.remove(field);
        }
    }
    out
}

fn without_meta_and_status(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(map) = out.as_object_mut() {
        for field in ["metadata", "status", "apiVersion", "kind"] {
            map.remove(field);
        }
    }
    out
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Applied configuration over the live object: objects merge key by key, everything else
/// (lists included) is replaced.
fn deep_merge(target: &mut Value, applied: &Value) {
    match (target, applied) {
        (Value::Object(t), Value::Object(a)) => {
            for (k, v) in a {
                if v.is_null() {
                    t.remove(k);
                } else {
                    deep_merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, a) => *t = a.clone(),
    }
}

/// Paths of the leaves (scalars, lists, empty objects) of an applied configuration.
fn leaf_paths(value: &Value) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    fn walk(v: &Value, path: &mut Vec<String>, out: &mut BTreeSet<Vec<String>>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, child) in map {
                    path.push(k.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {
                out.insert(path.clone());
            }
        }
    }
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn has_path(value: &Value, path: &[String]) -> bool {
    let mut cur = value;
    for segment in path {
        match cur.get(segment) {
            Some(next) => cur = next,
            None => return false,
        }
    }
    true
}

fn remove_path(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = value;
    for segment in parents {
        match cur.get_mut(segment) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(map) = cur.as_object_mut() {
        map.remove(last);
    }
}
