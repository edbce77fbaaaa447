#!/usr/bin/env bash
# Failover demo: 3 nodes, 60 jobs of ~300 ms, SIGKILL of the master after ~1 s.
# Prints who became master, how long it took, and checks that all 60 results
# are present, correct and unique. Uses loopback only (no mDNS).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE=node_modules/.bin/node
[ -x "$NODE" ] || { echo "run 'npm ci' first" >&2; exit 1; }
exec "$NODE" examples/failover-demo.ts "$@"
