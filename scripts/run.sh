#!/usr/bin/env bash
# Installs what is missing, builds, and starts ledgerd on ./data (embedded default: RocksDB,
# no NATS). Extra arguments go to ledgerd, e.g. scripts/run.sh --listen 127.0.0.1:9000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p data
exec build/transport/ledgerd --data "$PWD/data" "$@"
