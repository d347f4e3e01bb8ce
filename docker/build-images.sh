#!/usr/bin/env bash
# Builds both images of the Dockerfile with podman: granite-certainty:local (the gateway) and
# granite-certainty-vllm-cpu:local (vLLM on CPU with the tiny model). `make images` runs it from
# the repository root, with CONTAINERS_CONF naming docker/podman/containers.conf.
#
# Where no container registry is reachable, the Python base is made here from Debian's mirror
# (mmdebstrap), with the machine's locally added CA certificates; where PyTorch's CPU index is
# not reachable, torch comes from a local wheel folder (TORCH_WHEELS) through a one-file index
# mounted into the build. Run again, it reuses the base and podman's layer cache.
set -euo pipefail

CACHE=${IMAGES_CACHE:-${HOME}/.cache/granite-certainty/images}
TORCH_WHEELS=${TORCH_WHEELS:-}
LOCAL_CA=/usr/local/share/ca-certificates
# What the official python image has and the build needs: pip, a venv, the C headers (torch's
# compiler builds kernels against them when vLLM serves a LoRA), the users tools, CA certificates.
BASE_PACKAGES=python3.11,python3.11-venv,python3.11-dev,passwd,ca-certificates
# Named after what it is made of, so a change to the package list or the CAs makes a new one.
BASE_KEY=$(cat <(echo "$BASE_PACKAGES") "$LOCAL_CA"/*.crt 2>/dev/null | sha256sum | cut -c1-12)
LOCAL_BASE=localhost/granite-certainty-python:3.11-bookworm-${BASE_KEY}
DEFAULT_BASE=$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)
TORCH_INDEX=$(sed -n 's/^ARG TORCH_INDEX_URL=//p' Dockerfile)
TORCH_PIN=$(sed -n 's/^torch==//p' locks/vllm-cpu.txt | tr -d ' ')

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'make images: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is not installed ($2)"; }
reachable() { curl -fsS -o /dev/null --max-time 10 "$1" 2>/dev/null; }

# The base image: the Dockerfile's own where a registry answers, else one made from Debian.
python_base() {
    if podman image exists "docker.io/library/${DEFAULT_BASE}" \
        || timeout 120 podman pull -q "docker.io/library/${DEFAULT_BASE}" >/dev/null 2>&1; then
        echo "docker.io/library/${DEFAULT_BASE}"
    elif podman image exists "$LOCAL_BASE"; then
        echo "$LOCAL_BASE"
    else
        make_base >&2 && echo "$LOCAL_BASE"
    fi
}

# CPython 3.11 from Debian bookworm, a venv at /usr/local (python and pip on PATH, as in the
# official image), the machine's added CA certificates trusted (pip reaches PyPI through them).
# The tarball is not kept: the image is.
make_base() {
    need mmdebstrap "no container registry is reachable, so the base is made from Debian's mirror"
    say "no registry reachable: making ${LOCAL_BASE} with mmdebstrap (about a minute)"
    mkdir -p "$CACHE"
    local hooks=() certs=("$LOCAL_CA"/*.crt)
    if [[ -e ${certs[0]} ]]; then
        hooks+=(--customize-hook="copy-in ${certs[*]} ${LOCAL_CA}")
    fi
    mmdebstrap --variant=minbase --include="$BASE_PACKAGES" \
        "${hooks[@]}" \
        --customize-hook='chroot "$1" update-ca-certificates' \
        --customize-hook='chroot "$1" python3.11 -m venv /usr/local' \
        bookworm "$CACHE/base.tar"
    podman import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
        "$CACHE/base.tar" "$LOCAL_BASE" >/dev/null
    rm -f "$CACHE/base.tar"
}

# Build arguments and mounts for torch: none where PyTorch's index answers, else a one-file
# simple index (torch/index.html) linking the local wheel, both mounted read-only into the build.
torch_source() {
    if reachable "${TORCH_INDEX}/torch/"; then
        return
    fi
    local wheel
    wheel=$(find "${TORCH_WHEELS:-/nonexistent}" -maxdepth 1 -name "torch-${TORCH_PIN}-cp311-*x86_64.whl" 2>/dev/null | head -n1)
    [[ -n $wheel ]] || die "PyTorch's CPU index (${TORCH_INDEX}) is not reachable and no torch-${TORCH_PIN}-cp311 wheel is in TORCH_WHEELS (${TORCH_WHEELS:-unset}): set TORCH_WHEELS to a folder holding it"
    local name index="$CACHE/torch-index"
    name=$(basename "$wheel")
    mkdir -p "$index/torch"
    printf '<!DOCTYPE html>\n<html><body><a href="file:///wheels/%s">%s</a></body></html>\n' \
        "${name//+/%2B}" "$name" >"$index/torch/index.html"
    say "PyTorch's index not reachable: torch from ${wheel}"
    printf '%s\n' --build-arg "TORCH_INDEX_URL=file:///torch-index" \
        --volume "$index:/torch-index:ro" --volume "$wheel:/wheels/$name:ro"
}

build() {
    local target=$1 tag=$2
    shift 2
    say "building ${tag} (target ${target})"
    local start=$SECONDS
    podman build --format docker --layers --target "$target" --tag "$tag" "$@" .
    say "${tag}: $((SECONDS - start)) s, $(podman image inspect --format '{{.Size}}' "$tag" | numfmt --to=si)B"
}

main() {
    need podman "apt-get install podman (make images installs it on Debian)"
    need curl "apt-get install curl"
    local base torch torch_args=()
    base=$(python_base)
    say "Python base: ${base}"
    torch=$(torch_source)
    [[ -z $torch ]] || mapfile -t torch_args <<<"$torch"
    build gateway granite-certainty:local --build-arg "PYTHON_IMAGE=${base}"
    build vllm-cpu granite-certainty-vllm-cpu:local --build-arg "PYTHON_IMAGE=${base}" "${torch_args[@]}"
}

main "$@"
