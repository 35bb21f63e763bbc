#!/bin/sh
# Load run of the events API (make bench-events): the real exporter binary
# on loopback, wrk with test/bench/events.lua, fsync group commit.
#  1. DURATION seconds of sustained load: wrk's Requests/sec is the figure.
#  2. Another run killed with SIGKILL after KILL_AFTER seconds; the exporter
#     is restarted (replaying its journal) and eventscheck verifies that
#     every acknowledged delivery of both runs is in the journal.
set -eu
DURATION=${DURATION:-20}
KILL_AFTER=${KILL_AFTER:-5}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-10961}
GO=${GO:-go}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

CGO_ENABLED=0 $GO build -o "$work/exporter" "$repo/cmd/exporter"
token=bench-pipeline-token
printf %s "$token" | sha256sum > "$work/pipeline.sha256"
cat > "$work/restorable.yml" <<YML
environments:
  prod: {rpo: 1h}
sources: []
history: {root: ./history}
access:
  principals:
    - {name: bench, roles: [pipeline], token_sha256_file: pipeline.sha256}
events:
  queue_size: 4096
YML
mkdir -p "$work/acked"

start() {
  "$work/exporter" --config.file="$work/restorable.yml" --web.listen-address=127.0.0.1:$PORT --log.level=warn >>"$work/exporter.log" 2>&1 &
  pid=$!
  i=0
  until curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null; do
    i=$((i+1)); [ $i -lt 200 ] || { echo "exporter not ready"; cat "$work/exporter.log"; exit 1; }
    sleep 0.05
  done
}

start
echo "== sustained: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$repo/test/bench/events.lua" "http://127.0.0.1:$PORT" -- "$token" "$work/acked" sustained
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^restorable_events_(received_total|refused_total|journal_commit_events_(sum|count)|journal_fsync_duration_seconds_(sum|count))' || true

echo "== kill -9 after ${KILL_AFTER}s of a $((KILL_AFTER*2))s run"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$((KILL_AFTER*2))s" -s "$repo/test/bench/events.lua" "http://127.0.0.1:$PORT" -- "$token" "$work/acked" killed > "$work/wrk-killed.txt" 2>&1 &
wrkpid=$!
sleep "$KILL_AFTER"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=
wait "$wrkpid" || true
grep -E 'requests in|Non-2xx|Socket errors' "$work/wrk-killed.txt" || true
start
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
grep -o 'msg="event journal replayed".*' "$work/exporter.log" | tail -1 || true
(cd "$repo" && $GO run ./test/bench/eventscheck -journal "$work/history/events" "$work"/acked/acked-*.txt)
