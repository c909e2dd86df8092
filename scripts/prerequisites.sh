#!/usr/bin/env bash
# Installs what the build and the test suite need, idempotently. Called by `make build|test|run`.
# Each step checks first, so a warm machine spends well under a second here.
set -euo pipefail

need_cmd() { command -v "$1" >/dev/null 2>&1; }

if ! need_cmd cargo; then
    echo "prerequisites: cargo is not on PATH; install Rust with rustup first" >&2
    exit 1
fi

for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
        echo "prerequisites: adding rustup component ${component}"
        rustup component add "${component}"
    fi
done

if ! need_cmd kubectl; then
    echo "prerequisites: kubectl is required to render config/ with kustomize (tests and make deploy)." >&2
    echo "prerequisites: install kubectl >= 1.27 (it bundles kustomize v5)." >&2
    exit 1
fi
