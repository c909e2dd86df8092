#!/usr/bin/env bash
# Checks the kustomize tree under config/ without a cluster:
#   1. `kubectl kustomize` renders config/default, config/with-webhooks and config/samples;
#   2. no ClusterRole/Role in the rendered output uses a `*` wildcard in
#      apiGroups, resources or verbs;
#   3. every sample under config/samples parses, and every FlowCollector in it is
#      named `cluster`;
#   4. when the CRDs under config/crd/bases are the generated ones (not the
#      placeholders), every sample is checked against the CRD's OpenAPI schema:
#      unknown fields, types, enums, patterns, bounds, required fields.
# Steps 2-4 use python3 + PyYAML; without PyYAML, step 2 falls back to awk and
# steps 3-4 are skipped with a notice.
#
# Usage: scripts/check-kustomize.sh        (KUBECTL=/path/to/kubectl to override;
#        CHECK_KUSTOMIZE_NO_PYYAML=1 forces the awk fallback, for testing it)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KUBECTL="${KUBECTL:-kubectl}"
cd "$ROOT"

if ! command -v "$KUBECTL" >/dev/null 2>&1; then
  echo "FAIL: kubectl not found (set KUBECTL=...)" >&2
  exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fail=0

render() {
  local dir="$1" out="$2"
  if "$KUBECTL" kustomize "$dir" >"$out" 2>"$WORK/err"; then
    echo "ok: kubectl kustomize $dir ($(grep -c '^kind:' "$out") objects)"
  else
    echo "FAIL: kubectl kustomize $dir" >&2
    sed 's/^/    /' "$WORK/err" >&2
    fail=1
  fi
}

render config/default "$WORK/default.yaml"
render config/with-webhooks "$WORK/with-webhooks.yaml"
render config/samples "$WORK/samples.yaml"
[ "$fail" -eq 0 ] || exit 1

if [ -z "${CHECK_KUSTOMIZE_NO_PYYAML:-}" ] && python3 -c 'import yaml' >/dev/null 2>&1; then
  python3 - "$WORK/default.yaml" "$WORK/samples.yaml" <<'PY' || fail=1
import glob
import os
import re
import sys

import yaml

errors = []
notes = []

# ---------------------------------------------------------------- RBAC ----
def check_rbac(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    roles = 0
    for d in docs:
        if d.get("kind") not in ("ClusterRole", "Role"):
            continue
        roles += 1
        name = "%s/%s" % (d["kind"], d["metadata"]["name"])
        for i, rule in enumerate(d.get("rules") or []):
            for field in ("apiGroups", "resources", "verbs"):
                for v in rule.get(field) or []:
                    if "*" in str(v):
                        errors.append("%s rule %d: wildcard %r in %s" % (name, i, v, field))
    return roles

roles = check_rbac(sys.argv[1]) + check_rbac(sys.argv[2])
print("ok: %d ClusterRole/Role objects checked for wildcards" % roles
      if not errors else "FAIL: wildcard found in RBAC rules")

# ------------------------------------------------------------- samples ----
def load_crds():
    crds = {}
    placeholders = []
    for p in sorted(glob.glob("config/crd/bases/*.yaml")):
        with open(p) as f:
            for d in yaml.safe_load_all(f):
                if not d or d.get("kind") != "CustomResourceDefinition":
                    continue
                ann = (d.get("metadata") or {}).get("annotations") or {}
                if ann.get("netobserv.io/placeholder") == "true":
                    placeholders.append(p)
                    continue
                spec = d["spec"]
                for v in spec.get("versions") or []:
                    schema = (v.get("schema") or {}).get("openAPIV3Schema")
                    if schema:
                        key = (spec["group"], v["name"], spec["names"]["kind"])
                        crds[key] = schema
    return crds, placeholders


TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def validate(value, schema, path, out):
    """Structural check of `value` against an apiextensions v1 schema (subset)."""
    if value is None:
        if not schema.get("nullable"):
            out.append("%s: null is not allowed" % path)
        return
    for sub in schema.get("allOf") or []:
        validate(value, sub, path, out)
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            branch_errors = []
            for sub in schema[key]:
                e = []
                validate(value, sub, path, e)
                if not e:
                    break
                branch_errors.append(e)
            else:
                out.append("%s: matches no %s branch (%s)" % (path, key, branch_errors[0][0]))
    if schema.get("x-kubernetes-int-or-string"):
        if not (TYPES["integer"](value) or isinstance(value, str)):
            out.append("%s: expected int or string, got %r" % (path, value))
        return
    t = schema.get("type")
    if t and not TYPES[t](value):
        out.append("%s: expected %s, got %r" % (path, t, value))
        return
    if "enum" in schema and value not in schema["enum"]:
        out.append("%s: %r not in enum %s" % (path, value, schema["enum"]))
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append("%s: %r does not match %s" % (path, value, schema["pattern"]))
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append("%s: shorter than %d" % (path, schema["minLength"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append("%s: longer than %d" % (path, schema["maxLength"]))
    if TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            out.append("%s: %r below minimum %r" % (path, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            out.append("%s: %r above maximum %r" % (path, value, schema["maximum"]))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            out.append("%s: fewer than %d items" % (path, schema["minItems"]))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append("%s: more than %d items" % (path, schema["maxItems"]))
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                validate(v, items, "%s[%d]" % (path, i), out)
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        addl = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        for req in schema.get("required") or []:
            # The API server applies schema defaults before validating, so a
            # required field that has a default may be omitted.
            if req not in value and "default" not in (props.get(req) or {}):
                out.append("%s: missing required field %r" % (path, req))
        for k, v in value.items():
            p = "%s.%s" % (path, k)
            if k in props:
                validate(v, props[k], p, out)
            elif isinstance(addl, dict):
                validate(v, addl, p, out)
            elif addl is True or preserve:
                continue
            else:
                out.append("%s: unknown field" % p)


crds, placeholders = load_crds()
if placeholders:
    notes.append("CRDs are placeholders (%s): schema validation of samples skipped"
                 % ", ".join(os.path.basename(p) for p in placeholders))

samples = sorted(glob.glob("config/samples/*.yaml"))
checked = 0
for p in samples:
    if os.path.basename(p) == "kustomization.yaml":
        continue
    try:
        with open(p) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
    except yaml.YAMLError as e:
        errors.append("%s: YAML error: %s" % (p, e))
        continue
    for d in docs:
        api = d.get("apiVersion", "")
        kind = d.get("kind", "")
        name = (d.get("metadata") or {}).get("name")
        if kind == "FlowCollector" and name != "cluster":
            errors.append("%s: FlowCollector must be named 'cluster', got %r" % (p, name))
        if "/" not in api:
            continue
        group, version = api.split("/", 1)
        schema = crds.get((group, version, kind))
        if schema is None:
            if group == "flows.netobserv.io" and not placeholders:
                errors.append("%s: no CRD schema for %s %s" % (p, api, kind))
            continue
        out = []
        validate(d.get("spec"), (schema.get("properties") or {}).get("spec") or {}, "spec", out)
        errors.extend("%s: %s" % (p, e) for e in out)
        checked += 1
print("ok: %d sample files parsed; %d objects schema-checked" % (len(samples) - 1, checked))

for n in notes:
    print("note: " + n)
if errors:
    for e in errors:
        print("FAIL: " + e, file=sys.stderr)
    sys.exit(1)
PY
else
  echo "note: PyYAML not used; using awk for the wildcard check, sample checks skipped"
  for f in "$WORK/default.yaml" "$WORK/samples.yaml"; do
    # Track the current document's kind and whether we are inside an
    # apiGroups/resources/verbs list; flag any list item or flow list with a '*'.
    if ! awk '
      /^---/ { kind = ""; inlist = 0; next }
      /^kind:/ { kind = $2 }
      kind != "ClusterRole" && kind != "Role" { next }
      /^[ -]*(apiGroups|resources|verbs):/ {
        inlist = 1
        if ($0 ~ /\*/) { print "FAIL: wildcard: " $0; bad = 1 }
        next
      }
      /^[ -]*[A-Za-z]+:/ { inlist = 0 }
      inlist && /^ *- / && /\*/ { print "FAIL: wildcard: " $0; bad = 1 }
      END { exit bad }
    ' "$f"; then
      fail=1
    fi
  done
  [ "$fail" -eq 0 ] && echo "ok: no wildcard in rendered RBAC"
fi

if [ "$fail" -ne 0 ]; then
  echo "check-kustomize: FAILED" >&2
  exit 1
fi
echo "check-kustomize: all checks passed"
