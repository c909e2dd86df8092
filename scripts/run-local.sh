#!/usr/bin/env bash
# `make run`: local mode. Observes this machine with no cluster: `netobserv-local` runs the eBPF
# agent on this host's interfaces, the flow pipeline in the same process writing the SQLite flow
# store and Prometheus counters, and the web console on http://127.0.0.1:9001 reading the store.
# Ctrl-C detaches every hook and flushes the store; a second Ctrl-C exits at once.
#
# Installs what it needs (scripts/prerequisites.sh, the web UI), builds netobserv-local (release)
# and starts it. Options go to netobserv-local through ARGS, e.g.
#   make run ARGS="--features DNSTracking,PacketDrop --exclude-interfaces="
# (`target/release/netobserv-local --help` lists them all).
#
# Environment (optional):
#   ARGS      options for netobserv-local
#   BIN_DIR   use the netobserv-local binary in this directory instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "make run: local mode loads eBPF programs into the kernel, which needs root: run \`sudo make run\` instead" >&2
    exit 1
fi

if [ -z "${BIN_DIR:-}" ]; then
    scripts/prerequisites.sh
    # The console embeds the web UI at build time.
    scripts/build-ui.sh >&2
    echo "make run: building netobserv-local (release)..." >&2
    cargo build --release -q -p netobserv-local --bin netobserv-local
    BIN_DIR=target/release
fi
bin="$BIN_DIR/netobserv-local"
[ -x "$bin" ] || { echo "make run: $bin is missing" >&2; exit 1; }

# shellcheck disable=SC2086 # ARGS is a list of options
exec "$bin" ${ARGS:-}
