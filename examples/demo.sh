#!/usr/bin/env bash
# Quick start: a 3-node cluster on 127.0.0.1:7700-7702 (loopback only, no
# mDNS), a program in every language run on it, the cluster's status, then
# everything stopped. Run after `npm ci`:   npm run demo
set -euo pipefail
cd "$(dirname "$0")/.."
M="node_modules/.bin/node bin/meshrun.js"
PORT=${PORT:-7700}
DATA=$(mktemp -d -t meshrun-demo-XXXXXX)
$M up -n 3 --port "$PORT" --data-root "$DATA" > "$DATA/up.log" 2>&1 &
UP=$!
trap 'kill $UP 2>/dev/null; wait $UP 2>/dev/null; rm -rf "$DATA"' EXIT
echo "starting 3 nodes on 127.0.0.1:$PORT-$((PORT + 2)) (log: $DATA/up.log)"
for _ in $(seq 1 100); do
  if $M status --node "127.0.0.1:$PORT" --json 2>/dev/null | grep -q '"role": "master"' && \
     [ "$($M status --node "127.0.0.1:$PORT" --json | grep -c '"up": true')" -ge 3 ]; then break; fi
  sleep 0.3
done
$M status --node "127.0.0.1:$PORT"
echo
for f in examples/python/hello.py examples/c/hello.c examples/cpp/hello.cpp examples/java/hello.java examples/js/hello.js; do
  printf '\n$ meshrun run %s\n' "$f"
  $M run --node "127.0.0.1:$((PORT + 1))" "$f"
done
printf '\n$ meshrun run --lang calc -e "4 * (2 + 3)"\n'
$M run --node "127.0.0.1:$PORT" --lang calc -e "4 * (2 + 3)"
printf '\n$ printf "1 2 3\\n4" | meshrun run --stdin - --arg a --arg b examples/c/stdin.c\n'
printf '1 2 3\n4' | $M run --node "127.0.0.1:$((PORT + 2))" --stdin - --arg a --arg b examples/c/stdin.c
printf '\n$ meshrun run examples/c/compile_error.c   (exit code 121: compile error)\n'
$M run --node "127.0.0.1:$PORT" examples/c/compile_error.c || echo "exit code $?"
printf '\n$ meshrun run --json examples/java/multi\n'
$M run --node "127.0.0.1:$PORT" --json examples/java/multi | head -20
echo "..."
echo
echo "demo done; stopping the cluster"
