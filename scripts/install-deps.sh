#!/usr/bin/env bash
# Installs the Debian 12 packages the ledger builds and tests with. Skips apt entirely when
# everything is already installed. Uses sudo when not root.
#
#   scripts/install-deps.sh                # what building, running and testing need
#   scripts/install-deps.sh --sanitizers   # also clang 14 and libFuzzer (scripts/sanitize.sh)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  librocksdb-dev libcapnp-dev capnproto
  libboost-dev libboost-system-dev
  libnats-dev nats-server
  libroaring-dev
  libgtest-dev libgmock-dev
  libssl-dev rapidjson-dev
  curl
  python3-elasticsearch
)
if [[ "${1:-}" == "--sanitizers" ]]; then
  packages+=(clang-14 libfuzzer-14-dev libclang-rt-14-dev)
elif [[ $# -gt 0 ]]; then
  echo "usage: scripts/install-deps.sh [--sanitizers]" >&2
  exit 2
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
