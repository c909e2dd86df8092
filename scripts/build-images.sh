#!/usr/bin/env bash
# Builds the container images of netobserv-rs (`make images`):
#   1. static binaries: cargo --profile image for x86_64-unknown-linux-musl (musl resolves DNS by
#      itself, so the images need no libc, NSS modules or base image);
#   2. one FROM-scratch image per component from images/<name>.Containerfile, with the first
#      builder that works here: buildah, podman, or docker with a running daemon
#      (IMAGE_BUILDER=buildah|podman|docker forces one);
#   3. each image written as an OCI archive, target/images/<name>.tar, and left in the builder's
#      local storage under the reference of images/images.env.
# Exits non-zero, saying why, when no builder works.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../images/images.env
source images/images.env

TARGET=x86_64-unknown-linux-musl
OUT="$ROOT/target/images"
BIN_DIR="$ROOT/target/$TARGET/image"
# name of the Containerfile : cargo package : binary : image name variable
COMPONENTS=(
    "operator:netobserv-operator:netobserv-operator:IMAGE_OPERATOR"
    "ebpf-agent:netobserv-agent:netobserv-ebpf-agent:IMAGE_EBPF_AGENT"
    "flowlogs-pipeline:netobserv-pipeline:netobserv-pipeline:IMAGE_FLOWLOGS_PIPELINE"
    "console-plugin:netobserv-console:netobserv-console:IMAGE_CONSOLE_PLUGIN"
    "cli-collector:kubectl-netobserv:kubectl-netobserv:IMAGE_CLI_COLLECTOR"
)

works() {
    case "$1" in
        buildah) command -v buildah >/dev/null 2>&1 && buildah --storage-driver vfs images >/dev/null 2>&1 ;;
        podman) command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1 ;;
        docker) command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 ;;
        *) return 1 ;;
    esac
}

BUILDER="${IMAGE_BUILDER:-}"
if [ -n "$BUILDER" ]; then
    works "$BUILDER" || { echo "make images: IMAGE_BUILDER=$BUILDER does not work on this machine" >&2; exit 1; }
else
    for candidate in buildah podman docker; do
        if works "$candidate"; then BUILDER="$candidate"; break; fi
    done
fi
if [ -z "$BUILDER" ]; then
    echo "make images: no image builder works here: none of buildah, podman, or docker with a running daemon." >&2
    echo "  Install buildah (Debian/Ubuntu: apt-get install buildah) and run again." >&2
    exit 1
fi
echo "make images: building with $BUILDER"

packages=()
bins=()
for c in "${COMPONENTS[@]}"; do
    IFS=: read -r _ pkg bin _ <<<"$c"
    packages+=(-p "$pkg")
    bins+=(--bin "$bin")
done
cargo build --profile image --target "$TARGET" "${packages[@]}" "${bins[@]}"

CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
[ -r "$CA_BUNDLE" ] || { echo "make images: $CA_BUNDLE is missing (install ca-certificates)" >&2; exit 1; }

mkdir -p "$OUT"
for c in "${COMPONENTS[@]}"; do
    IFS=: read -r name _ bin var <<<"$c"
    ref="${IMAGE_REGISTRY}/${!var}:${IMAGE_TAG}"
    ctx="$OUT/context/$name"
    rm -rf "$ctx" && mkdir -p "$ctx"
    cp "$BIN_DIR/$bin" "$ctx/$bin"
    cp "$CA_BUNDLE" "$ctx/ca-certificates.crt"
    archive="$OUT/$name.tar"
    rm -f "$archive"
    case "$BUILDER" in
        buildah)
            buildah --storage-driver vfs bud --quiet --layers=false -f "images/$name.Containerfile" -t "$ref" "$ctx" >/dev/null
            buildah --storage-driver vfs push --quiet "$ref" "oci-archive:$archive:$ref"
            ;;
        podman)
            podman build --quiet -f "images/$name.Containerfile" -t "$ref" "$ctx" >/dev/null
            podman save --quiet --format oci-archive -o "$archive" "$ref"
            ;;
        docker)
            docker build --quiet -f "images/$name.Containerfile" -t "$ref" "$ctx" >/dev/null
            docker save -o "$archive" "$ref"
            ;;
    esac
    echo "  $ref -> target/images/$name.tar ($(du -h "$archive" | cut -f1))"
done
# Earlier builds of the same references are left untagged: drop them so storage does not grow.
case "$BUILDER" in
    buildah) buildah --storage-driver vfs rmi --prune >/dev/null 2>&1 || true ;;
    podman) podman image prune -f >/dev/null 2>&1 || true ;;
    docker) docker image prune -f >/dev/null 2>&1 || true ;;
esac
