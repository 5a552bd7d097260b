#!/usr/bin/env bash
# Side-by-side figures for docs/benchmarks.md: the Socket.IO peer and jamd (data dir on disk and
# on tmpfs), driven one right after the other by the peer's own load generator, in rounds.
#   scripts/bench-peer.sh PEER_DIR [ROUNDS]
# PEER_DIR is a copy of the peer's folder (../shared/peers/socketio) after `npm ci`. jamd is built
# from this checkout. Everything listens on 127.0.0.1; each run is bounded (load.mjs's --seconds).
set -euo pipefail
peer=$(cd "${1:?usage: $0 PEER_DIR [ROUNDS]}" && pwd)
rounds=${2:-3}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work" /dev/shm/jamd-bench-peer' EXIT
go build -o "$work/jamd" ./cmd/jamd
ulimit -n 20000
port=18090
for round in $(seq "$rounds"); do
  for load in "200 10 5" "1000 10 1"; do
    set -- $load
    echo "== round $round: $1 rooms × $2, $3 changes/s per host, 10 s"
    printf '%-12s' "socketio:"; (cd "$peer" && ./run-peer.sh "$1" "$2" 10 --rate "$3" 2>/dev/null | grep 'figure:')
    for where in "disk:$work/data" "tmpfs:/dev/shm/jamd-bench-peer"; do
      dir=${where#*:}
      rm -rf "$dir"; mkdir -p "$dir"
      "$work/jamd" serve --addr 127.0.0.1:$port --data-dir "$dir" --no-mdns --no-link --max-participants "$2" \
        --max-connections 20000 --max-connections-per-device 20000 --max-sessions 2000 \
        --creates-per-minute 100000 --create-rate-limit 0 >"$work/jamd.log" 2>&1 &
      pid=$!
      sleep 0.5
      printf '%-12s' "jamd ${where%%:*}:"
      (cd "$peer" && node load.mjs --target jamd --url http://127.0.0.1:$port --rooms "$1" --per "$2" \
        --seconds 10 --rate "$3" --pid $pid 2>/dev/null | grep 'figure:')
      kill $pid; wait $pid 2>/dev/null || true
      sleep 1
    done
  done
done
