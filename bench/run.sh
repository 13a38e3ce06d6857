#!/usr/bin/env bash
# bench/run.sh: the HTTP load runs of bench/README.md, end to end, in about four
# minutes. It builds concertd, rush and the bare baseline server, starts concertd
# on the local Redis (fresh REDIS_PREFIX) and PostgreSQL (a fresh database it
# creates and drops), runs each measurement bounded in time against 127.0.0.1
# only, and prints a summary with every figure next to the bare baseline of the
# same run. Raw outputs (wrk, rush, CPU profiles) go to bench/out/<stamp>/.
#
# Environment:
#   PROFILE=1        also take a 10 s CPU profile of concertd under each load
#                    (a separate run after the measured one, so the figures are
#                    not taxed by the profiler)
#   DURATION=15s     length of each wrk run
#   CONNS=256        wrk connections for the poll, hold and bare runs
#   RUSH_USERS, RUSH_SEATS, RUSH_CONCURRENCY   the whole-sale run's size
#   PAY_USERS        users of the payments-only run (4 holds each, all paid)
#   REDIS_HOST, PGHOST, PGUSER                 the local services (127.0.0.1, postgres)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15s}
CONNS=${CONNS:-256}
PROFILE=${PROFILE:-0}
RUSH_USERS=${RUSH_USERS:-2500}
RUSH_SEATS=${RUSH_SEATS:-6000}
PAY_USERS=${PAY_USERS:-2500}
RUSH_CONCURRENCY=${RUSH_CONCURRENCY:-128}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
PGHOST=${PGHOST:-127.0.0.1}
PGUSER=${PGUSER:-postgres}
PORT=18080
BARE_PORT=18090
PPROF=127.0.0.1:16060

for tool in wrk psql redis-cli curl go; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required (see bench/README.md)" >&2; exit 1; }
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT=bench/out/$stamp
mkdir -p "$OUT"
BIN=$OUT/bin
mkdir -p "$BIN"
db=concertd_bench_$(date +%s)
prefix=bench$(date +%s)
admin_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  psql -h "$PGHOST" -U "$PGUSER" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  redis-cli -h "$REDIS_HOST" --scan --pattern "$prefix:*" | xargs -r -n 500 redis-cli -h "$REDIS_HOST" del >/dev/null 2>&1 || true
}
trap cleanup EXIT

log() { printf '\n== %s\n' "$*" >&2; }

log "build into $BIN"
go build -o "$BIN/concertd" ./cmd/concertd
go build -o "$BIN/rush" ./cmd/rush
go build -o "$BIN/bare" ./bench/bare

log "fresh database $db, redis prefix $prefix"
psql -h "$PGHOST" -U "$PGUSER" -qc "CREATE DATABASE $db" >/dev/null

# MAX_HOLDS_PER_USER is large so the hold run measures holds, not a per-user limit
# hit after four requests; rush keeps its users to -per-user seats itself.
# RATE_LIMIT=off: one load generator polls and holds far faster than people do.
ADMIN_KEY=$admin_key \
  CONCERTD_ADDR=127.0.0.1:$PORT \
  REDIS_URL=redis://$REDIS_HOST:6379/0 \
  REDIS_PREFIX=$prefix \
  DATABASE_URL="postgres://$PGUSER@$PGHOST:5432/$db?sslmode=disable" \
  MAX_HOLDS_PER_USER=100000 \
  IDLE_TIMEOUT=10m \
  RATE_LIMIT=off \
  LOG_LEVEL=warn \
  CONCERTD_PPROF=$PPROF \
  "$BIN/concertd" >"$OUT/concertd.log" 2>&1 &
pids+=($!)
"$BIN/bare" -addr 127.0.0.1:$BARE_PORT >"$OUT/bare.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$BARE_PORT/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "concertd did not become ready:" >&2; cat "$OUT/concertd.log" >&2; exit 1; }

# wrk_run NAME URL SCRIPT ARGS...: a wrk run, output kept in $OUT/NAME.txt.
wrk_run() {
  local name=$1 url=$2 script=$3 conns=$4
  shift 4
  local cmd=(wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$script" "$url" -- "$@")
  echo "${cmd[*]}" >"$OUT/$name.cmd"
  log "$name: ${cmd[*]}"
  "${cmd[@]}" | tee "$OUT/$name.txt" >&2
}

# profile NAME URL SCRIPT CONNS ARGS...: a second, unmeasured run with a 10 s CPU profile.
profile() {
  [ "$PROFILE" = 1 ] || return 0
  local name=$1 url=$2 script=$3 conns=$4
  shift 4
  log "$name: CPU profile under the same load"
  wrk -t2 -c"$conns" -d12s -s "$script" "$url" -- "$@" >/dev/null &
  local w=$!
  sleep 1
  curl -fs -o "$OUT/$name.cpu.pprof" "http://$PPROF/debug/pprof/profile?seconds=10" || true
  wait $w || true
  go tool pprof -top -nodecount=35 "$BIN/concertd" "$OUT/$name.cpu.pprof" >"$OUT/$name.cpu.top" 2>/dev/null || true
}

# fivexx ROUTE: the 5xx answers concertd has counted on a route so far.
fivexx() {
  curl -fs "http://127.0.0.1:$PORT/metrics" |
    awk -v r="route=\"$1\"" 'index($0, r) && match($0, /status="5[0-9][0-9]"/) { n += $NF } END { print n + 0 }'
}

# 1. Polling: 10,000 WAITING tokens (admitPerSecond 1, maxActive 1).
log "setup: 10,000 waiting tokens"
eval "$("$BIN/rush" setup -addr 127.0.0.1:$PORT -admin-key "$admin_key" -mode poll -users 10000 -out "$OUT/poll.tokens")"
wrk_run bare "http://127.0.0.1:$BARE_PORT" bench/wrk/bare.lua "$CONNS" "$OUT/poll.tokens"
p5=$(fivexx /api/queue/status)
wrk_run poll "http://127.0.0.1:$PORT" bench/wrk/poll.lua "$CONNS" "$OUT/poll.tokens"
echo "5xx: $(($(fivexx /api/queue/status) - p5))" >>"$OUT/poll.txt"
profile poll "http://127.0.0.1:$PORT" bench/wrk/poll.lua "$CONNS" "$OUT/poll.tokens"

# 2. Holds: 1,000 ACTIVE users on a 100,000-seat schedule, random seats.
log "setup: 1,000 active users, 100,000 seats"
eval "$("$BIN/rush" setup -addr 127.0.0.1:$PORT -admin-key "$admin_key" -mode hold -users 1000 -seats 100000 -out "$OUT/hold.tokens")"
h5=$(fivexx /api/reservations)
wrk_run hold "http://127.0.0.1:$PORT" bench/wrk/hold.lua "$CONNS" "$OUT/hold.tokens" "$SCHEDULE_ID" 100000
echo "5xx: $(($(fivexx /api/reservations) - h5))" >>"$OUT/hold.txt"
profile hold "http://127.0.0.1:$PORT" bench/wrk/hold.lua "$CONNS" "$OUT/hold.tokens" "$SCHEDULE_ID" 100000

# 3. Seat map: 50,000 seats, 5,000 of them held, gzip as browsers ask.
log "setup: 50,000-seat schedule with 5,000 holds"
eval "$("$BIN/rush" setup -addr 127.0.0.1:$PORT -admin-key "$admin_key" -mode seatmap -users 64 -seats 50000 -held 5000 -out "$OUT/seatmap.tokens")"
wrk_run seatmap "http://127.0.0.1:$PORT" bench/wrk/seatmap.lua 64 "$OUT/seatmap.tokens" "$SCHEDULE_ID"
profile seatmap "http://127.0.0.1:$PORT" bench/wrk/seatmap.lua 64 "$OUT/seatmap.tokens" "$SCHEDULE_ID"

# 4. Payments alone: holds made untimed, then every hold paid (PostgreSQL commit).
pay_cmd=("$BIN/rush" paybench -addr 127.0.0.1:$PORT -admin-key "$admin_key" -users "$PAY_USERS" -per-user 4 -concurrency 64 -duration 30s)
echo "rush paybench -users $PAY_USERS -per-user 4 -concurrency 64 -duration 30s" >"$OUT/paybench.cmd"
log "payments: $(cat "$OUT/paybench.cmd")"
if [ "$PROFILE" = 1 ]; then
  (sleep 9; curl -fs -o "$OUT/paybench.cpu.pprof" "http://$PPROF/debug/pprof/profile?seconds=4" || true) &
  prof_pid=$!
fi
"${pay_cmd[@]}" | tee "$OUT/paybench.txt" >&2 || true
if [ "$PROFILE" = 1 ]; then
  wait "$prof_pid" || true
  go tool pprof -top -nodecount=35 "$BIN/concertd" "$OUT/paybench.cpu.pprof" >"$OUT/paybench.cpu.top" 2>/dev/null || true
fi

# 5. The whole sale with payments on PostgreSQL.
rush_cmd=("$BIN/rush" -addr 127.0.0.1:$PORT -admin-key "$admin_key" -users "$RUSH_USERS" -seats "$RUSH_SEATS" -per-user 4 -concurrency "$RUSH_CONCURRENCY" -duration 45s)
echo "rush -users $RUSH_USERS -seats $RUSH_SEATS -per-user 4 -concurrency $RUSH_CONCURRENCY -duration 45s" >"$OUT/rush.cmd"
log "sale: ${rush_cmd[*]/$admin_key/\$ADMIN_KEY}"
rush_rc=0
if [ "$PROFILE" = 1 ]; then
  (sleep 4; curl -fs -o "$OUT/rush.cpu.pprof" "http://$PPROF/debug/pprof/profile?seconds=8" || true) &
  prof_pid=$!
fi
"${rush_cmd[@]}" | tee "$OUT/rush.txt" >&2 || rush_rc=$?
if [ "$PROFILE" = 1 ]; then
  wait "$prof_pid" || true
  go tool pprof -top -nodecount=35 "$BIN/concertd" "$OUT/rush.cpu.pprof" >"$OUT/rush.cpu.top" 2>/dev/null || true
fi

# ---- summary ----
rps() { awk '/^Requests\/sec:/ { print $2 }' "$OUT/$1.txt"; }
# p99 in ms from wrk's latency distribution (units us, ms or s).
p99() {
  awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
       if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000; printf "%.2f", v }' "$OUT/$1.txt"
}
non2xx() { awk '/Non-2xx or 3xx responses:/ { print $NF } END { }' "$OUT/$1.txt" | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

bare=$(rps bare)
{
  echo
  echo "== concertd bench summary ($stamp, $(nproc) cores, $(uname -srm)) =="
  printf '%-34s %12s %10s %8s   %s\n' "run" "req/s" "p99 ms" "x bare" "goal"
  printf '%-34s %12s %10s %8s   %s\n' "bare fasthttp (baseline)" "$bare" "$(p99 bare)" "1.00" "-"
  printf '%-34s %12s %10s %8s   %s\n' "GET /api/queue/status" "$(rps poll)" "$(p99 poll)" "$(ratio "$(rps poll)" "$bare")" ">= 0.70x, p99 < 10 ms"
  printf '%-34s %12s %10s %8s   %s\n' "POST /api/reservations" "$(rps hold)" "$(p99 hold)" "$(ratio "$(rps hold)" "$bare")" ">= 0.60x, p99 < 10 ms"
  printf '%-34s %12s %10s %8s   %s\n' "GET seat map 50k (gzip, c64)" "$(rps seatmap)" "$(p99 seatmap)" "$(ratio "$(rps seatmap)" "$bare")" ">= 2,000 req/s"
  echo "  poll: $(grep '^5xx' "$OUT/poll.txt"); non-2xx $(non2xx poll)"
  echo "  hold: $(grep '^5xx' "$OUT/hold.txt"); non-2xx (201s excluded: 409 SEAT_TAKEN etc.) $(non2xx hold)"
  echo "  payments alone: $(grep '^paybench:' "$OUT/paybench.txt" || true)   goal >= 2,000/s"
  echo "  $(grep '^check:' "$OUT/paybench.txt" || true)"
  echo "  sale: $(grep -E '^(sold out|NOT sold out)' "$OUT/rush.txt" || true)"
  echo "  sale: $(grep '^completed payments' "$OUT/rush.txt" || true)"
  echo "  invariants: $(grep -c '^ok' "$OUT/rush.txt" || true) ok, $(grep -c '^FAIL' "$OUT/rush.txt" || true) failed (rush exit $rush_rc)"
  echo "  raw output: $OUT"
} | tee "$OUT/summary.txt"
