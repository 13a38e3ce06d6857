#!/usr/bin/env bash
# bench/scale.sh: how the waiting room scales with its length. It builds
# concertd and rush, starts a PRIVATE redis-server (no persistence, nothing else in
# it, so INFO memory is ours alone) and a fresh PostgreSQL database, runs concertd
# on them, then `rush scale`: one paused concert whose queue grows through STEPS
# waiting tokens, created through the API; at each checkpoint the token issue and
# poll rates (req/s, p50, p99), Redis bytes per waiting token and concertd's RSS and
# Go heap. It draws the curve with gnuplot and copies it to bench/scale.png.
# Everything else lands in bench/out/scale-<stamp>/ (ignored by git): scale.csv,
# scale.txt (rush's table), scale.png, source.txt (what concertd was built from),
# concertd.log, redis.log, heap.top (where concertd's live heap is at the last
# checkpoint), poll-<N>.cpu.pprof/.top (concertd polling at each checkpoint).
#
# The machine is shared with other load runs, so run it under the bench lock:
#   flock /tmp/concertd-bench.lock bash bench/scale.sh
#
# Environment:
#   STEPS=1000,10000,100000,1000000   checkpoints (waiting tokens)
#   CONCURRENCY=64                    requests in flight in the timed issue probe and poll
#   FILL_CONCURRENCY=128              requests in flight while growing the queue (untimed)
#   ROUNDS=3                          rounds of (poll, issue probe) per checkpoint; the
#                                     fastest quiet round of each is reported, all are in the CSV
#   QUIET=0.25 MAX_ROUNDS=6           a round is quiet when the rest of the machine used at most
#                                     QUIET cores; each timed phase first waits (up to 2 min) for
#                                     that, and rounds are added up to MAX_ROUNDS until each
#                                     operation has a quiet one
#   PROBE=3000                        token issues timed per round
#   POLL_DURATION=5s                  timed polling per round
#   REDIS_PORT=28479 PORT=28480 PPROF_PORT=28460   the private redis-server, concertd
#                                     and its pprof (each must be free)
#   PGHOST, PGUSER                    the local PostgreSQL (127.0.0.1, postgres)
#   COPY_PNG=1                        copy the plot to bench/scale.png (0: leave it in out/)
#   CONCERTD_REF=                     build concertd from this git ref (e.g. HEAD) via git
#                                     archive, leaving the working tree alone; unset: the
#                                     working tree as it is. rush is always the working
#                                     tree's. What was measured goes to source.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=${STEPS:-1000,10000,100000,1000000}
CONCURRENCY=${CONCURRENCY:-64}
FILL_CONCURRENCY=${FILL_CONCURRENCY:-128}
PROBE=${PROBE:-3000}
ROUNDS=${ROUNDS:-3}
QUIET=${QUIET:-0.25}
MAX_ROUNDS=${MAX_ROUNDS:-6}
POLL_DURATION=${POLL_DURATION:-5s}
REDIS_PORT=${REDIS_PORT:-28479}
PORT=${PORT:-28480}
PPROF_PORT=${PPROF_PORT:-28460}
PPROF=127.0.0.1:$PPROF_PORT
PGHOST=${PGHOST:-127.0.0.1}
PGUSER=${PGUSER:-postgres}
COPY_PNG=${COPY_PNG:-1}
CONCERTD_REF=${CONCERTD_REF:-}

for tool in redis-server redis-cli psql curl go gnuplot; do
  command -v "$tool" >/dev/null || { echo "scale: $tool is required (apt-get install -y redis-server postgresql-client curl gnuplot-nox)" >&2; exit 1; }
done
# Other runs may share the machine: a port taken by someone else would silently
# measure their server.
for p in "$REDIS_PORT" "$PORT" "$PPROF_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "scale: port $p is already in use; set REDIS_PORT, PORT or PPROF_PORT" >&2
    exit 1
  fi
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT=bench/out/scale-$stamp
BIN=$OUT/bin
mkdir -p "$BIN"
db=concertd_scale_$(date +%s)
# shellcheck source=bench/lib.sh
. bench/lib.sh

cleanup() {
  stop_pids
  drop_db "$db"
}
trap cleanup EXIT


log "build into $BIN"
# The server's source: a git ref, or the working tree (which others may be editing:
# the uncommitted diff of the server's packages is kept next to the figures).
server_dirs=(api engine store scripts cmd/concertd go.mod go.sum)
if [ -n "$CONCERTD_REF" ]; then
  rev=$(git rev-parse --short "$CONCERTD_REF")
  mkdir -p "$OUT/src"
  git archive "$rev" | tar -x -C "$OUT/src"
  bin_abs=$PWD/$BIN
  (cd "$OUT/src" && go build -o "$bin_abs/concertd" ./cmd/concertd)
  echo "concertd built from $CONCERTD_REF ($rev)" >"$OUT/source.txt"
  src_label="concertd $rev"
else
  go build -o "$BIN/concertd" ./cmd/concertd
  git diff HEAD -- "${server_dirs[@]}" >"$OUT/concertd-src.diff"
  changed=$(git status --short -- "${server_dirs[@]}" | wc -l)
  echo "concertd built from the working tree: $(git rev-parse --short HEAD) + $changed uncommitted files in the server's packages (diff sha1 $(sha1sum <"$OUT/concertd-src.diff" | cut -c1-10), kept in concertd-src.diff)" >"$OUT/source.txt"
  git status --short -- "${server_dirs[@]}" >>"$OUT/source.txt"
  src_label="concertd $(git rev-parse --short HEAD)"
  [ "$changed" -gt 0 ] && src_label="$src_label + uncommitted changes"
fi
go build -o "$BIN/rush" ./cmd/rush
cat "$OUT/source.txt" >&2

log "private redis-server on 127.0.0.1:$REDIS_PORT, fresh database $db"
# No RDB, no AOF: nothing forks or rewrites under the measurement, and used_memory
# holds only this run's keys.
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
  --dir "$OUT" --logfile "$PWD/$OUT/redis.log" --daemonize no &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$REDIS_PORT" ping >/dev/null
create_db "$db"

# IDLE_TIMEOUT=2h: nobody polls most tokens, and none may drop out of the line
# while the queue grows. RATE_LIMIT=off: one client creates a million users.
# POLL_CACHE_AGE=0: every poll reads Redis, the cost that could grow with the line
# (with the cache, a short line's few tokens would be polled from memory).
ADMIN_KEY=$admin_key \
  TOKEN_SECRET=$token_secret \
  CONCERTD_ADDR=127.0.0.1:$PORT \
  REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0 \
  REDIS_PREFIX=concertd \
  DATABASE_URL="postgres://$PGUSER@$PGHOST:5432/$db?sslmode=disable" \
  IDLE_TIMEOUT=2h \
  RATE_LIMIT=off \
  POLL_CACHE_AGE=0 \
  LOG_LEVEL=warn \
  CONCERTD_PPROF=$PPROF \
  "$BIN/concertd" >"$OUT/concertd.log" 2>&1 &
concertd_pid=$!
pids+=($concertd_pid)
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
if ! kill -0 "$concertd_pid" 2>/dev/null || ! curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null; then
  echo "concertd did not become ready:" >&2; cat "$OUT/concertd.log" >&2; exit 1
fi

cmd=(rush scale -addr 127.0.0.1:$PORT -redis 127.0.0.1:$REDIS_PORT -redis-prefix concertd -steps "$STEPS"
  -concurrency "$CONCURRENCY" -fill-concurrency "$FILL_CONCURRENCY" -rounds "$ROUNDS" -max-rounds "$MAX_ROUNDS" -quiet "$QUIET" -probe "$PROBE" -poll-duration "$POLL_DURATION"
  -pprof "$PPROF" -profile-dir "$OUT" -csv "$OUT/scale.csv")
echo "${cmd[*]}" >"$OUT/scale.cmd"
log "${cmd[*]}"
start=$(date +%s)
rush_rc=0
ADMIN_KEY=$admin_key "$BIN/rush" "${cmd[@]:1}" 2>&1 | tee "$OUT/scale.txt" >&2 || rush_rc=$?
echo "took $(($(date +%s) - start)) s; rush exit $rush_rc" | tee -a "$OUT/scale.txt" >&2

# Where concertd's heap is at the last checkpoint (the queue is still full).
curl -fs -o "$OUT/heap.pprof" "http://$PPROF/debug/pprof/heap?gc=1" &&
  go tool pprof -top -sample_index=inuse_space -nodecount=25 "$BIN/concertd" "$OUT/heap.pprof" >"$OUT/heap.top" 2>/dev/null &&
  go tool pprof -top -cum -sample_index=inuse_space -nodecount=40 "$BIN/concertd" "$OUT/heap.pprof" >"$OUT/heap.cum.top" 2>/dev/null || true
head -16 "$OUT/heap.top" >&2 2>/dev/null || true
# CPU profiles of concertd polling at each checkpoint (an extra, unmeasured round),
# and the largest checkpoint's against the smallest's.
profiles=()
while IFS= read -r f; do profiles+=("$f"); done < <(ls "$OUT"/poll-*.cpu.pprof 2>/dev/null | sort -t- -k2 -n)
for f in "${profiles[@]}"; do
  go tool pprof -top -nodecount=30 "$BIN/concertd" "$f" >"${f%.pprof}.top" 2>/dev/null || true
done
if [ "${#profiles[@]}" -ge 2 ]; then
  go tool pprof -top -nodecount=30 -diff_base "${profiles[0]}" "$BIN/concertd" "${profiles[-1]}" >"$OUT/poll-diff.cpu.top" 2>/dev/null || true
fi
# RSS straight from the kernel, next to what /metrics said.
grep -E '^(VmRSS|VmHWM)' "/proc/$concertd_pid/status" | tee -a "$OUT/scale.txt" >&2 || true
redis-cli -p "$REDIS_PORT" info memory | grep -E '^(used_memory|used_memory_rss|mem_fragmentation_ratio):' | tee -a "$OUT/scale.txt" >&2 || true

[ -s "$OUT/scale.csv" ] || { echo "scale: no figures (rush exit $rush_rc)" >&2; exit 1; }

log "plot $OUT/scale.png"
gnuplot -e "csv='$OUT/scale.csv'; out='$OUT/scale.png'; title='waiting room vs queue length: $src_label, $stamp, $(nproc) shared cores, concurrency $CONCURRENCY'" - <<'GP'
set terminal pngcairo size 1800,680 font ",10" noenhanced
set output out
set datafile separator ","
set key autotitle columnhead
set logscale x
set format x "%.0s%c"
set grid
stats csv using "waiting" nooutput
set xrange [STATS_min/1.6:STATS_max*1.6]
set xlabel "WAITING tokens in the queue (log scale)"
set multiplot layout 1,3 title title
# left: speed
set title "token issue and poll: speed"
set ylabel "requests per second"
set y2label "p99 latency (ms)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key below horizontal maxcols 2
set bmargin 9
plot csv using "waiting":"issue_rps" with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "POST /api/users/token req/s", \
     csv using "waiting":"poll_rps" with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "GET /api/queue/status req/s", \
     csv using "waiting":"issue_p99_ms" axes x1y2 with linespoints dt 2 pt 6 lc rgb "#1f77b4" title "issue p99 (right)", \
     csv using "waiting":"poll_p99_ms" axes x1y2 with linespoints dt 2 pt 6 lc rgb "#ff7f0e" title "poll p99 (right)"
# middle: CPU per request
set title "CPU per request (concertd + Redis)"
set ylabel "CPU microseconds per request"
unset y2label
unset y2tics
set ytics mirror
set yrange [0:*]
plot csv using "waiting":(column("issue_concertd_cpu_us")+column("issue_redis_cpu_us")) with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "issue: concertd + Redis", \
     csv using "waiting":"issue_redis_cpu_us" with linespoints dt 2 pt 6 lc rgb "#1f77b4" title "issue: Redis alone", \
     csv using "waiting":(column("poll_concertd_cpu_us")+column("poll_redis_cpu_us")) with linespoints lw 2 pt 7 lc rgb "#ff7f0e" title "poll: concertd + Redis", \
     csv using "waiting":"poll_redis_cpu_us" with linespoints dt 2 pt 6 lc rgb "#ff7f0e" title "poll: Redis alone"
# right: memory
set title "memory"
set ylabel "Redis bytes per waiting token"
set y2label "concertd MiB"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
plot csv using "waiting":"redis_bytes_per_token" with linespoints lw 2 pt 7 lc rgb "#d62728" title "Redis used_memory delta / token", \
     csv using "waiting":"keys_bytes_per_token" with linespoints dt 3 pt 6 lc rgb "#d62728" title "Redis MEMORY USAGE / token", \
     200 with lines lc rgb "#999999" dt 4 title "goal: 200 B/token", \
     csv using "waiting":(column("concertd_rss_bytes")/1048576) axes x1y2 with linespoints lw 2 pt 5 lc rgb "#2ca02c" title "concertd RSS (right)", \
     csv using "waiting":((strcol("gc_forced") eq "true" ? column("concertd_heap_alloc_bytes") : column("concertd_heap_inuse_bytes"))/1048576) axes x1y2 with linespoints dt 2 pt 4 lc rgb "#2ca02c" title "concertd Go heap, live after GC (right)"
unset multiplot
GP
[ -s "$OUT/scale.png" ] || { echo "scale: gnuplot drew nothing" >&2; exit 1; }
if [ "$COPY_PNG" = 1 ]; then
  cp "$OUT/scale.png" bench/scale.png
  log "bench/scale.png updated"
fi
echo "raw output: $OUT" >&2
exit "$rush_rc"
