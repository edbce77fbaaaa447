#!/usr/bin/env bash
# A heterogeneous cluster: node A offers only Python and C, node B only
# Python and Java. Jobs go to the node that can run them, whichever node they
# are submitted to; a language no node offers is rejected with a message.
set -uo pipefail
cd "$(dirname "$0")/.."
M="node_modules/.bin/node bin/meshrun.js"
DATA=$(mktemp -d -t meshrun-hetero-XXXXXX)
$M node --port 7710 --no-mdns --langs python,c    --data "$DATA/a" > "$DATA/a.log" 2>&1 &
A=$!
$M node --port 7711 --no-mdns --langs python,java --data "$DATA/b" --peer 127.0.0.1:7710 > "$DATA/b.log" 2>&1 &
B=$!
trap 'kill $A $B 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 60); do
  [ "$($M status --node 127.0.0.1:7711 --json 2>/dev/null | grep -c '"up": true')" -ge 2 ] && break
  sleep 0.3
done
A_ID=$(sed -n 's/^peer //p' "$DATA/a.log"); B_ID=$(sed -n 's/^peer //p' "$DATA/b.log")
echo "node A (python, c):    $A_ID"
echo "node B (python, java): $B_ID"
for job in "7711 examples/c/hello.c" "7710 examples/java/hello.java" "7710 examples/python/hello.py"; do
  set -- $job
  node=$($M run --node "127.0.0.1:$1" --json "$2" | sed -n 's/^  "node": "\(.*\)",$/\1/p')
  where=$([ "$node" = "$A_ID" ] && echo A || echo B)
  echo "$2 submitted to :$1 ran on node $where"
done
echo "examples/cpp/hello.cpp:"
$M run --node 127.0.0.1:7710 examples/cpp/hello.cpp; echo "exit code $?"
