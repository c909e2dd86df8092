#!/usr/bin/env bash
# Builds the console web UI (crates/console/web) into crates/console/web/build: `standalone/`
# (vite) and `plugin/` (webpack + the OpenShift console dynamic plugin SDK). Idempotent: npm ci
# runs only when package-lock.json changed since the last install, and the build only when a
# source changed since the last build. `cargo build` never needs this: without a build the
# console binary serves a page saying how to make one.
set -euo pipefail
cd "$(dirname "$0")/../crates/console/web"

if ! command -v npm >/dev/null 2>&1; then
    echo "build-ui: npm is not installed (scripts/prerequisites.sh installs Node.js and npm)" >&2
    exit 1
fi

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.netobserv-lock-sum 2>/dev/null || true)" != "${lock_sum}" ]; then
    echo "build-ui: npm ci (package-lock.json changed or node_modules missing)"
    npm ci --no-audit --no-fund
    echo "${lock_sum}" > node_modules/.netobserv-lock-sum
fi

src_sum=$( (cat package-lock.json package.json tsconfig.json vite.config.ts webpack.plugin.config.cjs \
    console-extensions.json index.html; find src -type f | sort | xargs cat) | sha256sum | cut -d' ' -f1)
if [ "$(cat build/.netobserv-src-sum 2>/dev/null || true)" = "${src_sum}" ] \
    && [ -f build/standalone/index.html ] && [ -f build/plugin/plugin-manifest.json ]; then
    echo "build-ui: build/ is up to date"
    exit 0
fi
npm run typecheck
npm run build
echo "${src_sum}" > build/.netobserv-src-sum
echo "build-ui: standalone $(du -sh build/standalone | cut -f1), plugin $(du -sh build/plugin | cut -f1)"
