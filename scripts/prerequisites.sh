#!/usr/bin/env bash
# Installs what the build and the test suite need, idempotently. Called by `make build|test|run`.
# Each step checks first, so a warm machine spends well under a second here.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

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

# --- eBPF agent (crates/agent, crates/agent-ebpf) ---------------------------------------------
# The kernel programs are built by crates/agent/build.rs (aya-build) with the nightly toolchain's
# rust-src (-Z build-std=core) and linked by bpf-linker 0.13.0 against LLVM 22. The agent tests
# drive traffic through network namespaces and compare with nftables counters, so they need
# iproute2, nftables, ping and nc.
apt_updated=0
apt_install() {
    # Installs the given Debian packages, running `apt-get update` once if a package is unknown.
    if ! need_cmd apt-get; then
        echo "prerequisites: apt-get is not available; install these packages by hand: $*" >&2
        exit 1
    fi
    if ! apt-get -o DPkg::Lock::Timeout=600 install -y "$@" >/dev/null 2>&1; then
        if [ "${apt_updated}" = 0 ]; then
            apt-get -o DPkg::Lock::Timeout=600 update >/dev/null
            apt_updated=1
        fi
        apt-get -o DPkg::Lock::Timeout=600 install -y "$@" >/dev/null || {
            echo "prerequisites: could not install $* with apt-get" >&2
            exit 1
        }
    fi
}

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "prerequisites: installing the nightly toolchain (the eBPF programs need -Z build-std)"
    rustup toolchain install nightly --profile minimal || {
        echo "prerequisites: cannot install the nightly toolchain; the eBPF agent cannot be built" >&2
        exit 1
    }
fi
if ! rustup +nightly component list --installed 2>/dev/null | grep -q '^rust-src'; then
    echo "prerequisites: adding rust-src to the nightly toolchain (needed to build the eBPF programs)"
    rustup component add rust-src --toolchain nightly || {
        echo "prerequisites: 'rustup component add rust-src --toolchain nightly' failed;" >&2
        echo "prerequisites: the eBPF agent (crates/agent-ebpf) cannot be built without it" >&2
        exit 1
    }
fi

agent_pkgs=()
for pkg in llvm-22-dev iproute2 nftables iputils-ping netcat-openbsd iperf3 openssl; do
    dpkg -s "${pkg}" >/dev/null 2>&1 || agent_pkgs+=("${pkg}")
done
if [ "${#agent_pkgs[@]}" -gt 0 ]; then
    echo "prerequisites: installing ${agent_pkgs[*]}"
    apt_install "${agent_pkgs[@]}"
fi

if ! bpf-linker --version 2>/dev/null | grep -q '0\.13\.0'; then
    echo "prerequisites: installing bpf-linker 0.13.0 against LLVM 22 (takes 2-3 minutes)"
    LLVM_PREFIX=/usr/lib/llvm-22 cargo install bpf-linker@0.13.0 --no-default-features --features llvm-22 || {
        echo "prerequisites: cannot install bpf-linker 0.13.0; the eBPF agent cannot be built" >&2
        exit 1
    }
fi

# The NetworkEvents and UDN mapping tests run a real ovsdb-server (with the OVN Northbound and
# Open vSwitch schemas vendored in crates/agent/tests/data, so openvswitch-switch is not needed)
# and insert rows with ovsdb-client: both come with openvswitch-common.
if ! need_cmd ovsdb-server || ! need_cmd ovsdb-tool || ! need_cmd ovsdb-client; then
    echo "prerequisites: installing openvswitch-common (ovsdb-server for the NetworkEvents and UDN mapping tests)"
    apt_install --no-install-recommends openvswitch-common
fi

# --- pipeline (crates/pipeline) ----------------------------------------------------------------
# The end-to-end test has a real Prometheus scrape the pipeline's /metrics.
if ! need_cmd prometheus; then
    echo "prerequisites: installing prometheus (the pipeline's end-to-end test scrapes with it)"
    apt_install --no-install-recommends prometheus
fi

# --- Kafka (agent EXPORT=kafka, pipeline kafka ingest and encoder) --------------------------------
# The Kafka tests run a real Kafka-protocol broker, tansu, on loopback (crates/test-kafka). It
# builds from crates.io (about 15 minutes on 2 cores, once; later runs find it on PATH). The
# `libsql` feature gives it SQLite storage, where the SCRAM tests create their user before the
# broker restarts requiring authentication; a marker next to the binary records the features
# (an older install without them is replaced).
TANSU_FEATURES="dynostore,libsql"
TANSU_MARKER="${CARGO_HOME:-$HOME/.cargo}/bin/.tansu-0.6.0-features"
if ! tansu --version 2>/dev/null | grep -q '0\.6\.0' \
    || [ "$(cat "$TANSU_MARKER" 2>/dev/null)" != "$TANSU_FEATURES" ]; then
    echo "prerequisites: installing tansu 0.6.0 (Kafka-protocol broker for the Kafka tests; ~15 min once)"
    cargo install tansu --version 0.6.0 --locked --force --features "$TANSU_FEATURES" || {
        echo "prerequisites: cannot install tansu 0.6.0; the Kafka tests need it" >&2
        exit 1
    }
    echo "$TANSU_FEATURES" > "$TANSU_MARKER"
fi

# --- packet capture (crates/agent packet mode, crates/pcapng) ----------------------------------
# The capture tests compare the agent's packets with a tcpdump capture of the same interface and
# read the pcapng files (and their comments) back with tshark, an independent reader. tshark's
# installer asks whether non-root users may capture: answered "no" beforehand.
if ! need_cmd tshark || ! need_cmd tcpdump; then
    echo "prerequisites: installing tshark and tcpdump (packet capture tests)"
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt_install tshark tcpdump
fi

# --- flow store and console (crates/flowstore, crates/console) ---------------------------------
# The store's tests make capture files with the sqlite3 CLI as an independent writer/reader; the
# console's agreement test runs the real Prometheus installed above.
if ! need_cmd sqlite3; then
    echo "prerequisites: installing sqlite3 (the flow store's tests use it as an independent tool)"
    apt_install --no-install-recommends sqlite3
fi

# --- local mode (crates/local) --------------------------------------------------------------------
# Its end-to-end test reads the console API and the pipeline's /metrics with curl.
if ! need_cmd curl; then
    echo "prerequisites: installing curl (local mode's test reads the console API with it)"
    apt_install --no-install-recommends curl
fi

# --- container images (make images, crates/install/tests/images.rs) -----------------------------
# Static binaries for scratch images are built for musl (rust-std for the target, musl-gcc for the
# C parts: SQLite, ring); buildah builds FROM scratch images as root without a daemon.
if ! rustup target list --installed 2>/dev/null | grep -q '^x86_64-unknown-linux-musl$'; then
    echo "prerequisites: adding the x86_64-unknown-linux-musl target (static binaries for the images)"
    rustup target add x86_64-unknown-linux-musl
fi
image_pkgs=()
need_cmd musl-gcc || image_pkgs+=(musl-tools)
need_cmd buildah || image_pkgs+=(buildah)
if [ "${#image_pkgs[@]}" -gt 0 ]; then
    echo "prerequisites: installing ${image_pkgs[*]} (container images)"
    apt_install "${image_pkgs[@]}"
fi

# --- Console web UI (crates/console/web) ---------------------------------------------------------
# `make ui` builds it with Node.js >= 20 and npm (npm ci from the committed lockfile); its tests
# drive Debian's chromium headless through playwright-core (no browser download).
if ! need_cmd node || ! need_cmd npm; then
    apt_install --no-install-recommends nodejs npm
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    echo "prerequisites: the web UI needs Node.js >= 20 (found $(node --version)); install a newer one" >&2
    exit 1
fi
if ! need_cmd chromium; then
    apt_install --no-install-recommends chromium fonts-liberation
fi
