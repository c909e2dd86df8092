#!/usr/bin/env bash
# `make run`: local mode, first version. Observes this host's network with no cluster:
# the eBPF agent on the host's interfaces exports flows over gRPC on loopback to the pipeline,
# which enriches them (TCP flag names, private/public subnet labels) and prints one readable row
# per flow. Stop with Ctrl-C (the agent detaches every program it attached).
#
# The embedded flow store and the console UI come later (see the open issues).
#
# Environment (all optional):
#   INTERFACES / EXCLUDE_INTERFACES / SAMPLING / CACHE_ACTIVE_TIMEOUT / FEATURES
#                     passed to the agent (upstream variable names; FEATURES=drops,dns,rtt turns
#                     on PacketDrop / DNS tracking / RTT)
#   RUN_DURATION      stop after this many seconds (default: run until Ctrl-C)
#   BIN_DIR           use the agent and pipeline binaries in this directory instead of building
#   NETOBSERV_NETNS   observe inside this network namespace (/run/netns/NAME) instead of the host
#   NETNS_DIRS        also hook interfaces inside the network namespaces of these directories
#                     (e.g. /var/run/netns); default `none`: local mode observes the host only
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "make run: loading eBPF programs needs root; run it as root (sudo make run)" >&2
    exit 1
fi

if [ -z "${BIN_DIR:-}" ]; then
    echo "make run: building the agent and the pipeline (release)..." >&2
    cargo build --release -q -p netobserv-agent --bin netobserv-ebpf-agent -p netobserv-pipeline --bin netobserv-pipeline
    BIN_DIR=target/release
fi
agent="$BIN_DIR/netobserv-ebpf-agent"
pipeline="$BIN_DIR/netobserv-pipeline"
for b in "$agent" "$pipeline"; do
    [ -x "$b" ] || { echo "make run: $b is missing" >&2; exit 1; }
done

work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

cat >"$work/pipeline.yaml" <<'YAML'
pipeline:
  - {name: grpc}
  - {name: enrich, follows: grpc}
  - {name: print, follows: enrich}
parameters:
  - {name: grpc, ingest: {type: grpc, grpc: {port: 0}}}
  - name: enrich
    transform:
      type: network
      network:
        rules:
          - {type: decode_tcp_flags, decode_tcp_flags: {input: Flags, output: Flags}}
          - {type: add_subnet_label, add_subnet_label: {input: SrcAddr, output: SrcSubnetLabel}}
          - {type: add_subnet_label, add_subnet_label: {input: DstAddr, output: DstSubnetLabel}}
        subnetLabels:
          - {name: private, cidrs: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, "fc00::/7"]}
          - {name: loopback, cidrs: [127.0.0.0/8, "::1/128"]}
          - {name: link-local, cidrs: [169.254.0.0/16, "fe80::/10"]}
          - {name: "EXT:public", cidrs: [0.0.0.0/0, "::/0"]}
  - {name: print, write: {type: stdout, stdout: {format: table}}}
YAML

"$pipeline" --config "$work/pipeline.yaml" --metrics-address 127.0.0.1:0 2>"$work/pipeline.err" &
pids+=($!)
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/.*gRPC ingest listening on [^:]*:\([0-9]*\),.*/\1/p' "$work/pipeline.err" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "make run: the pipeline did not start:" >&2
    cat "$work/pipeline.err" >&2
    exit 1
fi

features=()
case ",${FEATURES:-}," in *,drops,*) features+=(ENABLE_PKT_DROPS=true) ;; esac
case ",${FEATURES:-}," in *,dns,*) features+=(ENABLE_DNS_TRACKING=true) ;; esac
case ",${FEATURES:-}," in *,rtt,*) features+=(ENABLE_RTT=true) ;; esac

env TARGET_HOST=127.0.0.1 TARGET_PORT="$port" \
    CACHE_ACTIVE_TIMEOUT="${CACHE_ACTIVE_TIMEOUT:-2s}" \
    SAMPLING="${SAMPLING:-1}" \
    LOG_LEVEL="${LOG_LEVEL:-warn}" \
    ${INTERFACES:+INTERFACES="$INTERFACES"} \
    ${EXCLUDE_INTERFACES:+EXCLUDE_INTERFACES="$EXCLUDE_INTERFACES"} \
    ${NETOBSERV_NETNS:+NETOBSERV_NETNS="$NETOBSERV_NETNS"} \
    NETNS_DIRS="${NETNS_DIRS:-none}" \
    "${features[@]}" \
    "$agent" &
pids+=($!)
echo "make run: observing $( [ -n "${NETOBSERV_NETNS:-}" ] && echo "namespace $NETOBSERV_NETNS" || echo "this host" ); flows appear every ${CACHE_ACTIVE_TIMEOUT:-2s}. Ctrl-C to stop." >&2

if [ -n "${RUN_DURATION:-}" ]; then
    sleep "$RUN_DURATION"
else
    wait "${pids[1]}"
fi
