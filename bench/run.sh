#!/usr/bin/env bash
# bench/run.sh: the HTTP load runs of bench/README.md, end to end, in about six
# minutes. It builds concertd, rush and the bare baseline server, starts concertd
# on the local Redis (fresh REDIS_PREFIX) and PostgreSQL (a fresh database it
# creates and drops), runs each measurement bounded in time against 127.0.0.1
# only, and prints a summary with every figure next to the baselines of the same
# run: bare fasthttp for HTTP, redis-benchmark for Redis, pgbench for PostgreSQL.
# Raw outputs (wrk, redis-benchmark, pgbench, rush, CPU profiles, the Redis
# commands of each wrk run) go to bench/out/<stamp>/.
#
# Environment:
#   ONLY="bare poll" run only these steps (default: all), in the usual order:
#                    bare redis poll pollredis hold holdredis best issue seatmap pgbench pay sale
#                    (best: POST /api/reservations/best for pairs on six 50,000-seat
#                    arena schedules, asked in turn, so seats are left all along)
#                    (pollredis: poll again on a second instance with
#                    POLL_CACHE_AGE=0, so every poll reads Redis; holdredis: hold
#                    again, on a fresh schedule, through a second instance with
#                    HOLD_CACHE_AGE=0, so every hold runs hold.lua)
#                    (bare needs no other step; the summary leaves out what did
#                    not run, and a ratio whose baseline did not run is n/a)
#   PROFILE=1        also take a 10 s CPU profile of concertd under each load
#                    (a separate run after the measured one, so the figures are
#                    not taxed by the profiler); for holds, both on the full
#                    schedule (hold) and on a fresh one whose seats are being
#                    taken (hold-take)
#   DURATION=15s     length of each wrk run
#   PAIRED=1         with bare and pollredis, hold, holdredis, best or issue running, measure
#                    bare again right before each of them (bare-pollredis, bare-hold,
#                    bare-holdredis, bare-best, bare-issue), and after hold, best and issue once
#                    more under their own requests (same-hold, same-best, same-issue; see same_bare), and
#                    give those steps their ratio against that adjacent baseline:
#                    the shared machine's speed drifts over the minutes between
#                    the first bare run and the later steps (0: one bare run only)
#   CONNS=256        wrk connections for the poll, hold and bare runs
#   RUSH_USERS, RUSH_SEATS, RUSH_CONCURRENCY   the whole-sale run's size
#   PAY_USERS        users of the payments-only run (4 holds each, all paid)
#   ISSUE_USERS=1500000 users inserted (SQL) for the token-issue run: enough that
#                    each request is a user's first entry at up to ~100k req/s
#   RUSH_ADMIT, RUSH_MAX_ACTIVE   the whole sale's queue settings (rush defaults)
#   RUSH_DURATION=45s  the whole sale's time limit; RUSH_ARGS  more rush flags
#                    (the 200,000-user sale of RESULTS: RUSH_USERS=200000 RUSH_SEATS=20000
#                    RUSH_CONCURRENCY=256 RUSH_ADMIT=200 RUSH_MAX_ACTIVE=2000
#                    RUSH_DURATION=10m RUSH_ARGS="-ramp 15s -check-timeout 5m")
#   REDIS_HOST, PGHOST, PGUSER                 the local services (127.0.0.1, postgres)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15s}
CONNS=${CONNS:-256}
PROFILE=${PROFILE:-0}
PAIRED=${PAIRED:-1}
RUSH_USERS=${RUSH_USERS:-2500}
RUSH_SEATS=${RUSH_SEATS:-6000}
PAY_USERS=${PAY_USERS:-2500}
RUSH_CONCURRENCY=${RUSH_CONCURRENCY:-128}
RUSH_ADMIT=${RUSH_ADMIT:-}
RUSH_MAX_ACTIVE=${RUSH_MAX_ACTIVE:-}
RUSH_DURATION=${RUSH_DURATION:-45s}
RUSH_ARGS=${RUSH_ARGS:-}
ISSUE_USERS=${ISSUE_USERS:-1500000}
ONLY=${ONLY:-}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
PGHOST=${PGHOST:-127.0.0.1}
PGUSER=${PGUSER:-postgres}
PORT=18080
PORT_UNCACHED=18081
BARE_PORT=18090
PPROF=127.0.0.1:16060

# want STEP: whether STEP is to run (ONLY empty or naming it).
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
for step in $ONLY; do
  case $step in
    bare | redis | poll | pollredis | hold | holdredis | best | issue | seatmap | pgbench | pay | sale) ;;
    *) echo "bench: unknown step $step in ONLY (bare redis poll pollredis hold holdredis best issue seatmap pgbench pay sale)" >&2; exit 1 ;;
  esac
done

tools=(wrk psql redis-cli curl go)
want redis && tools+=(redis-benchmark)
want pgbench && tools+=(pgbench)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required (see bench/README.md)" >&2; exit 1; }
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT=bench/out/$stamp
mkdir -p "$OUT"
BIN=$OUT/bin
mkdir -p "$BIN"
db=concertd_bench_$(date +%s)
pgbench_db=concertd_pgbench_$(date +%s)
prefix=bench$(date +%s)
# redis-benchmark writes its own keys (key:*, myzset, rbench:*) into this database
# of the local Redis, never into concertd's (0), and they are deleted afterwards.
REDIS_BENCH_DB=${REDIS_BENCH_DB:-15}
# shellcheck source=bench/lib.sh
. bench/lib.sh

cleanup() {
  stop_pids
  drop_db "$db"
  drop_db "$pgbench_db"
  redis_bench_clean
  redis-cli -h "$REDIS_HOST" --scan --pattern "$prefix:*" | xargs -r -n 500 redis-cli -h "$REDIS_HOST" del >/dev/null 2>&1 || true
}
redis_bench_clean() {
  for pat in 'key:*' 'myzset*' 'rbench:*'; do
    redis-cli -h "$REDIS_HOST" -n "$REDIS_BENCH_DB" --scan --pattern "$pat" |
      xargs -r -n 1000 redis-cli -h "$REDIS_HOST" -n "$REDIS_BENCH_DB" del >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

# seconds 15s|2m|30: a wrk-style duration in whole seconds (for pgbench -T).
seconds() {
  case $1 in
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}

log "build into $BIN"
go build -o "$BIN/concertd" ./cmd/concertd
go build -o "$BIN/rush" ./cmd/rush
go build -o "$BIN/bare" ./bench/bare

log "fresh database $db, redis prefix $prefix"
create_db "$db"

# start_concertd PORT NAME [VAR=value...]: a concertd on this run's Redis prefix and
# database (instances share both, and the token key kept in Redis), its pid in
# $started. MAX_HOLDS_PER_USER is large so the hold run measures holds, not a
# per-user limit hit after four requests; rush keeps its users to -per-user seats
# itself. RATE_LIMIT=off: one load generator polls and holds far faster than people do.
start_concertd() {
  local port=$1 name=$2
  shift 2
  env ADMIN_KEY="$admin_key" \
    TOKEN_SECRET="$token_secret" \
    CONCERTD_ADDR=127.0.0.1:$port \
    REDIS_URL=redis://$REDIS_HOST:6379/0 \
    REDIS_PREFIX=$prefix \
    DATABASE_URL="postgres://$PGUSER@$PGHOST:5432/$db?sslmode=disable" \
    MAX_HOLDS_PER_USER=100000 \
    IDLE_TIMEOUT=10m \
    RATE_LIMIT=off \
    LOG_LEVEL=warn \
    "$@" \
    "$BIN/concertd" >"$OUT/$name.log" 2>&1 &
  started=$!
  pids+=($started)
}
start_concertd $PORT concertd CONCERTD_PPROF=$PPROF
concertd_pid=$started
uncached_pid=
"$BIN/bare" -addr 127.0.0.1:$BARE_PORT >"$OUT/bare.log" 2>&1 &
bare_pid=$!
pids+=($bare_pid)
# Redis's own CPU is counted only when it runs on this machine.
redis_pid=$(redis-cli -h "$REDIS_HOST" info server | tr -d '\r' | sed -n 's/^process_id://p')
[ -r "/proc/$redis_pid/stat" ] || redis_pid=

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$BARE_PORT/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "concertd did not become ready:" >&2; cat "$OUT/concertd.log" >&2; exit 1; }

# ticks PID: the CPU time (user + system, clock ticks) a process has used so far.
ticks() { if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then awk '{ print $14 + $15 }' "/proc/$1/stat"; else echo 0; fi; }
# user_ticks PID: the part of it spent in the process's own code, not the kernel's.
user_ticks() { if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then awk '{ print $14 }' "/proc/$1/stat"; else echo 0; fi; }

# requests NAME: how many requests wrk made in run NAME.
requests() { awk '/requests in/ { print $1 }' "$OUT/$1.txt"; }

# wrk_run NAME URL SCRIPT ARGS...: a wrk run, output kept in $OUT/NAME.txt, and
# the CPU the server, Redis and wrk itself used during it in $OUT/NAME.cpu. On two
# shared cores the three compete, so CPU per request explains a ratio that req/s
# alone cannot.
wrk_run() {
  local name=$1 url=$2 script=$3 conns=$4
  shift 4
  local cmd=(wrk -t2 -c"$conns" -d"$DURATION" --latency -s "$script" "$url" -- "$@")
  echo "${cmd[*]}" >"$OUT/$name.cmd"
  log "$name: ${cmd[*]}"
  local server=$concertd_pid
  [[ $url == *":$BARE_PORT"* ]] && server=$bare_pid
  [[ $url == *":$PORT_UNCACHED"* ]] && server=$uncached_pid
  local s0 su0 r0 w
  redis-cli -h "$REDIS_HOST" info commandstats >"$OUT/$name.cmdstats0" 2>/dev/null || true
  s0=$(ticks "$server") su0=$(user_ticks "$server") r0=$(ticks "$redis_pid")
  # The subshell's children's CPU (fields 16, 17) is wrk's once wrk has exited.
  w=$( ("${cmd[@]}" >"$OUT/$name.txt"; awk '{ print $16 + $17 }' "/proc/$BASHPID/stat"))
  echo "server=$(($(ticks "$server") - s0)) server_user=$(($(user_ticks "$server") - su0)) redis=$(($(ticks "$redis_pid") - r0)) wrk=$w hz=$(getconf CLK_TCK)" >"$OUT/$name.cpu"
  redis-cli -h "$REDIS_HOST" info commandstats >"$OUT/$name.cmdstats1" 2>/dev/null || true
  redis_commands "$name" >"$OUT/$name.redis" || true
  cat "$OUT/$name.txt" >&2
}

# redis_commands NAME: the Redis commands a wrk run caused, from INFO commandstats
# before and after it: calls per request and Redis's own µs per call and per
# request. A script's calls count once as evalsha and again under each command it
# runs, whose time is inside the script's. So a batch's size shows as requests per
# evalsha, and a script's cost is split into the commands it runs.
redis_commands() {
  local n
  n=$(requests "$1")
  [ -n "$n" ] && [ -s "$OUT/$1.cmdstats1" ] || return 0
  # INFO ends its lines with \r, a field separator here.
  awk -v n="$n" -F'[:,=\r]' '
      FNR == NR { if ($1 ~ /^cmdstat_/) { c0[$1] = $3; u0[$1] = $5 } next }
      $1 ~ /^cmdstat_/ {
        c = $3 - c0[$1]; u = $5 - u0[$1]
        if (c > 0) printf "%-28s %12d calls %8.3f per request %8.2f us per call %8.2f us per request\n",
          substr($1, 9), c, c / n, u / c, u / n
      }' "$OUT/$1.cmdstats0" "$OUT/$1.cmdstats1" | sort -k11 -g -r
}

# bare_run NAME: the baseline, bare fasthttp under the poll run's requests, as NAME.
bare_run() { wrk_run "$1" "http://127.0.0.1:$BARE_PORT" bench/wrk/bare.lua "$CONNS" "$OUT/poll.tokens"; }

# paired_bare STEP: bare again, right before STEP's run (see PAIRED), as bare-STEP.
paired_bare() {
  if [ "$PAIRED" = 1 ] && want bare; then
    bare_run "bare-$1"
  fi
}

# same_bare STEP SCRIPT ARGS...: bare under STEP's own requests (its wrk script and
# arguments, which bare ignores), right after STEP, as same-STEP. The paired bare
# run sends the poll's GETs; a hold or token request costs wrk more to make (a
# body per request), and on two shared cores that CPU is taken from the server, so
# this baseline tells concertd's cost from the load generator's.
same_bare() {
  if [ "$PAIRED" = 1 ] && want bare; then
    local step=$1 script=$2
    shift 2
    wrk_run "same-$step" "http://127.0.0.1:$BARE_PORT" "$script" "$CONNS" "$@"
  fi
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

# metric_sum SERIES [ROUTE [STATUS]]: concertd's total so far of a /metrics series,
# over the samples of that route (if given) whose status matches the regex STATUS
# (if given). METRICS_PORT names another instance than the one on PORT.
metric_sum() {
  curl -fs "http://127.0.0.1:${METRICS_PORT:-$PORT}/metrics" |
    awk -v m="$1" -v r="${2:-}" -v s="${3:-}" 'index($0, m " ") == 1 || index($0, m "{") == 1 {
        if ((r == "" || index($0, "route=\"" r "\"")) && (s == "" || $0 ~ ("status=\"" s "\""))) n += $NF
      } END { print n + 0 }'
}
# answers ROUTE STATUS: the answers with that status concertd has counted on a route so far.
answers() { metric_sum concertd_http_requests_total "$1" "$2"; }
# fivexx ROUTE: the 5xx answers concertd has counted on a route so far.
fivexx() { metric_sum concertd_http_requests_total "$1" '5[0-9][0-9]'; }
# from_cache: the polls concertd has answered from memory so far (POLL_CACHE_AGE).
from_cache() { metric_sum concertd_polls_from_cache_total; }
# refused_here: the holds concertd has refused from its seat view so far (HOLD_CACHE_AGE).
refused_here() { metric_sum concertd_holds_refused_from_memory_total; }

# start_uncached ENV...: a second concertd on PORT_UNCACHED with ENV, as uncached_pid.
start_uncached() {
  start_concertd $PORT_UNCACHED concertd-uncached "$@"
  uncached_pid=$started
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT_UNCACHED/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
}

# 1. Bare fasthttp, then polling: 10,000 WAITING tokens (admitPerSecond 1, maxActive 1).
#    Both send the same requests: GET /api/queue/status with the same token rotation.
if want bare || want poll || want pollredis; then
  log "setup: 10,000 waiting tokens"
  eval "$("$BIN/rush" setup -addr 127.0.0.1:$PORT -admin-key "$admin_key" -mode poll -users 10000 -out "$OUT/poll.tokens")"
fi
if want bare; then
  bare_run bare
fi

# 2. Redis baseline: redis-benchmark against the same redis-server concertd uses
#    (its own database number), one command per round trip and pipelined by 16,
#    plus an EVAL of a two-command script (ZADD + ZRANK, the shape of enter.lua).
if want redis; then
  rb=(redis-benchmark -h "$REDIS_HOST" --dbnum "$REDIS_BENCH_DB" --csv -c 50 -r 100000)
  {
    echo "${rb[*]} -n 200000 -P 1 -t set,get,zadd"
    echo "${rb[*]} -n 1000000 -P 16 -t set,get,zadd"
    echo "${rb[*]} -n 200000 EVAL \"redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) return redis.call('ZRANK', KEYS[1], ARGV[2])\" 1 rbench:z __rand_int__ m:__rand_int__"
  } >"$OUT/redis.cmd"
  log "redis: $(head -1 "$OUT/redis.cmd") (and -P 16, and EVAL)"
  "${rb[@]}" -n 200000 -P 1 -t set,get,zadd 2>/dev/null | sed 's/^"\(SET\|GET\|ZADD\)"/"\1 P1"/' >"$OUT/redis.csv"
  "${rb[@]}" -n 1000000 -P 16 -t set,get,zadd 2>/dev/null | grep -v '^"test"' | sed 's/^"\(SET\|GET\|ZADD\)"/"\1 P16"/' >>"$OUT/redis.csv"
  "${rb[@]}" -n 200000 EVAL "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) return redis.call('ZRANK', KEYS[1], ARGV[2])" 1 rbench:z __rand_int__ m:__rand_int__ 2>/dev/null |
    grep -v '^"test"' | sed 's/^"EVAL[^"]*"/"EVAL P1"/' >>"$OUT/redis.csv"
  cat "$OUT/redis.csv" >&2
  redis_bench_clean
fi

# Each of the 10,000 tokens is polled several times a second, so most polls are
# answered from concertd's memory (POLL_CACHE_AGE, 1 s). pollredis repeats the run
# on a second instance with the cache off, where every poll is a status.lua call.
if want poll; then
  p5=$(fivexx /api/queue/status) pc=$(from_cache)
  wrk_run poll "http://127.0.0.1:$PORT" bench/wrk/poll.lua "$CONNS" "$OUT/poll.tokens"
  echo "5xx: $(($(fivexx /api/queue/status) - p5))" >>"$OUT/poll.txt"
  echo "from cache: $(($(from_cache) - pc))" >>"$OUT/poll.txt"
  profile poll "http://127.0.0.1:$PORT" bench/wrk/poll.lua "$CONNS" "$OUT/poll.tokens"
fi
if want pollredis; then
  start_uncached POLL_CACHE_AGE=0
  paired_bare pollredis
  wrk_run pollredis "http://127.0.0.1:$PORT_UNCACHED" bench/wrk/poll.lua "$CONNS" "$OUT/poll.tokens"
  kill "$uncached_pid" 2>/dev/null || true
fi

# 3. Holds: 1,000 ACTIVE users on a 100,000-seat schedule, random seats. The seats
#    are gone within seconds, so most holds are refused, as in a real rush; most of
#    those concertd refuses from its seat view (HOLD_CACHE_AGE, 1 s). holdredis
#    repeats the run on a fresh schedule through a second instance with that off,
#    where every hold is a hold.lua call.
# hold_run NAME PORT: the hold run through the concertd on PORT, as NAME.
hold_run() {
  local name=$1 port=$2 METRICS_PORT=$2
  log "setup: 1,000 active users, 100,000 seats ($name)"
  eval "$("$BIN/rush" setup -addr 127.0.0.1:$port -admin-key "$admin_key" -mode hold -users 1000 -seats 100000 -out "$OUT/$name.tokens")"
  paired_bare "$name"
  local h5 h201 h200 hm
  h5=$(fivexx /api/reservations) h201=$(answers /api/reservations 201) h200=$(answers /api/reservations 200) hm=$(refused_here)
  wrk_run "$name" "http://127.0.0.1:$port" bench/wrk/hold.lua "$CONNS" "$OUT/$name.tokens" "$SCHEDULE_ID" 100000
  {
    echo "5xx: $(($(fivexx /api/reservations) - h5))"
    echo "201: $(($(answers /api/reservations 201) - h201))"
    echo "200: $(($(answers /api/reservations 200) - h200))"
    echo "refused from memory: $(($(refused_here) - hm))"
  } >>"$OUT/$name.txt"
}
if want hold; then
  hold_run hold $PORT
  # The same once more on the now-full schedule: the cost and latency of a rush's
  # refusals alone, without the two seconds in which the seats are taken.
  wrk_run hold-full "http://127.0.0.1:$PORT" bench/wrk/hold.lua "$CONNS" "$OUT/hold.tokens" "$SCHEDULE_ID" 100000
  same_bare hold bench/wrk/hold.lua "$OUT/hold.tokens" "$SCHEDULE_ID" 100000
  profile hold "http://127.0.0.1:$PORT" bench/wrk/hold.lua "$CONNS" "$OUT/hold.tokens" "$SCHEDULE_ID" 100000
  if [ "$PROFILE" = 1 ]; then
    # The profile above sees refusals only; hold-take sees a fresh schedule's seats
    # being taken, the phase that sets hold's cost and tail (as long as the
    # 100,000 seats last: two seconds on a fast machine, the whole run on a slow one).
    eval "$("$BIN/rush" setup -addr 127.0.0.1:$PORT -admin-key "$admin_key" -mode hold -users 1000 -seats 100000 -out "$OUT/hold-take.tokens")"
    profile hold-take "http://127.0.0.1:$PORT" bench/wrk/hold.lua "$CONNS" "$OUT/hold-take.tokens" "$SCHEDULE_ID" 100000
  fi
fi
if want holdredis; then
  start_uncached HOLD_CACHE_AGE=0
  hold_run holdredis $PORT_UNCACHED
  kill "$uncached_pid" 2>/dev/null || true
fi
if want best; then
  log "setup: 1,000 active users, six 50,000-seat arena schedules (best)"
  eval "$("$BIN/rush" setup -addr 127.0.0.1:$PORT -admin-key "$admin_key" -mode best -users 1000 -seats 50000 -schedules 6 -out "$OUT/best.tokens")"
  paired_bare best
  b5=$(fivexx /api/reservations/best) b201=$(answers /api/reservations/best 201) b409=$(answers /api/reservations/best 409)
  wrk_run best "http://127.0.0.1:$PORT" bench/wrk/best.lua "$CONNS" "$OUT/best.tokens" "$SCHEDULE_IDS" 2
  {
    echo "5xx: $(($(fivexx /api/reservations/best) - b5))"
    echo "201: $(($(answers /api/reservations/best 201) - b201))"
    echo "409: $(($(answers /api/reservations/best 409) - b409))"
  } >>"$OUT/best.txt"
  same_bare best bench/wrk/best.lua "$OUT/best.tokens" "$SCHEDULE_IDS" 2
  profile best "http://127.0.0.1:$PORT" bench/wrk/best.lua "$CONNS" "$OUT/best.tokens" "$SCHEDULE_IDS" 2
fi

# 4. Token issue: POST /api/users/token for users who have not entered yet. The
#    users are inserted with SQL (fast, and concertd has never seen them, so it
#    learns them from PostgreSQL by blocks of ids as wrk reaches them, as after a
#    deploy); their keys (a user's first key is signed from its id and the token
#    secret) are signed by rush setup with this run's TOKEN_SECRET;
#    issue.lua walks the ids in order, one range per wrk thread.
# issue_users N: insert N users, print their id range FIRST-LAST.
issue_users() {
  psql -h "$PGHOST" -U "$PGUSER" -d "$db" -qtAc "WITH ins AS (INSERT INTO users (name, email)
      SELECT 'issue ' || g, 'issue-$(date +%s%N)-' || g || '@bench.invalid' FROM generate_series(1, $1) g RETURNING id)
    SELECT CASE WHEN max(id) - min(id) + 1 = count(*) THEN min(id) || '-' || max(id) END FROM ins"
}
# issue_count STATUS: POST /api/users/token answers with that status so far.
issue_count() { answers /api/users/token "$1"; }
if want issue; then
  log "setup: $ISSUE_USERS users (SQL) and a concert"
  range=$(issue_users "$ISSUE_USERS")
  [ -n "$range" ] || { echo "bench: inserted user ids are not contiguous" >&2; exit 1; }
  eval "$(TOKEN_SECRET="$token_secret" "$BIN/rush" setup -addr 127.0.0.1:$PORT -admin-key "$admin_key" -mode issue -user-ids "$range" -out "$OUT/issue.users")"
  paired_bare issue
  i201=$(issue_count 201) i200=$(issue_count 200) i5=$(fivexx /api/users/token)
  wrk_run issue "http://127.0.0.1:$PORT" bench/wrk/issue.lua "$CONNS" "$OUT/issue.users" "$CONCERT_ID" 2
  {
    echo "201: $(($(issue_count 201) - i201))"
    echo "200: $(($(issue_count 200) - i200))"
    echo "5xx: $(($(fivexx /api/users/token) - i5))"
  } >>"$OUT/issue.txt"
  tail -3 "$OUT/issue.txt" >&2
  same_bare issue bench/wrk/issue.lua "$OUT/issue.users" "$CONCERT_ID" 2
  if [ "$PROFILE" = 1 ]; then
    # Fresh users and a fresh concert, so the profiled run issues first tokens too.
    range=$(issue_users "$ISSUE_USERS")
    eval "$(TOKEN_SECRET="$token_secret" "$BIN/rush" setup -addr 127.0.0.1:$PORT -admin-key "$admin_key" -mode issue -user-ids "$range" -out "$OUT/issue-profile.users")"
    profile issue "http://127.0.0.1:$PORT" bench/wrk/issue.lua "$CONNS" "$OUT/issue-profile.users" "$CONCERT_ID" 2
  fi
fi

# 5. Seat map: 50,000 seats, 5,000 of them held, gzip as browsers ask.
if want seatmap; then
  log "setup: 50,000-seat schedule with 5,000 holds"
  eval "$("$BIN/rush" setup -addr 127.0.0.1:$PORT -admin-key "$admin_key" -mode seatmap -users 64 -seats 50000 -held 5000 -out "$OUT/seatmap.tokens")"
  wrk_run seatmap "http://127.0.0.1:$PORT" bench/wrk/seatmap.lua 64 "$OUT/seatmap.tokens" "$SCHEDULE_ID"
  profile seatmap "http://127.0.0.1:$PORT" bench/wrk/seatmap.lua 64 "$OUT/seatmap.tokens" "$SCHEDULE_ID"
fi

# 6. PostgreSQL baseline: pgbench on the same server, in a scratch database.
#    -N is TPC-B without the teller/branch updates (one account UPDATE, a SELECT,
#    a history INSERT, COMMIT): like a payment, one short write transaction that
#    waits for its WAL flush. 16 clients, as concertd's PostgreSQL pool.
if want pgbench; then
  pgb_init=(pgbench -h "$PGHOST" -U "$PGUSER" -i -s 10 -q "$pgbench_db")
  pgb_run=(pgbench -h "$PGHOST" -U "$PGUSER" -c 16 -j 2 -T "$(seconds "$DURATION")" -N -M prepared "$pgbench_db")
  printf '%s\n%s\n' "${pgb_init[*]}" "${pgb_run[*]}" >"$OUT/pgbench.cmd"
  log "pgbench: ${pgb_run[*]}"
  create_db "$pgbench_db"
  "${pgb_init[@]}" >"$OUT/pgbench-init.txt" 2>&1
  "${pgb_run[@]}" 2>&1 | tee "$OUT/pgbench.txt" >&2 || true
  drop_db "$pgbench_db"
fi

# 7. Payments alone: holds made untimed, then every hold paid (PostgreSQL commit).
if want pay; then
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
fi

# 8. The whole sale with payments on PostgreSQL.
rush_rc=-
if want sale; then
  rush_args=(-users "$RUSH_USERS" -seats "$RUSH_SEATS" -per-user 4 -concurrency "$RUSH_CONCURRENCY" -duration "$RUSH_DURATION")
  [ -n "$RUSH_ADMIT" ] && rush_args+=(-admit "$RUSH_ADMIT")
  [ -n "$RUSH_MAX_ACTIVE" ] && rush_args+=(-max-active "$RUSH_MAX_ACTIVE")
  read -ra extra <<<"$RUSH_ARGS"
  rush_args+=("${extra[@]}")
  rush_cmd=("$BIN/rush" -addr 127.0.0.1:$PORT -admin-key "$admin_key" -timeline "$OUT/sale.csv" "${rush_args[@]}")
  echo "rush ${rush_args[*]}" >"$OUT/rush.cmd"
  log "sale: rush ${rush_args[*]}"
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
  # requests/s and p99 over the sale; committed as bench/rush.png when worth keeping
  if command -v gnuplot >/dev/null && [ -s "$OUT/sale.csv" ]; then
    gnuplot -e "in='$OUT/sale.csv'; out='$OUT/sale.png'; title='rush ${rush_args[*]} ($stamp)'" bench/rush-plot.gp || true
  fi
fi

# ---- summary ----
# Every helper prints nothing (and succeeds) when its step did not run.
have() { [ -s "$OUT/$1.txt" ]; }
rps() { if have "$1"; then awk '/^Requests\/sec:/ { print $2 }' "$OUT/$1.txt"; fi; }
# p99 in ms from wrk's latency distribution (units us, ms or s).
p99() {
  if have "$1"; then
    awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000; printf "%.2f", v }' "$OUT/$1.txt"
  fi
}
non2xx() { if have "$1"; then awk '/Non-2xx or 3xx responses:/ { n = $NF } END { print n + 0 }' "$OUT/$1.txt"; fi; }
line() { if have "$1"; then grep -E "$2" "$OUT/$1.txt" | head -1 || true; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# share PART WHOLE: PART's share of WHOLE, 0.00 when PART is 0 (ratio would say n/a).
share() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a >= 0) printf "%.2f", a / b; else print "n/a" }'; }
# redis_ops TEST: requests/s of one redis-benchmark line ("SET P1", "GET P16", "EVAL P1").
redis_ops() { if [ -s "$OUT/redis.csv" ]; then awk -F'","' -v t="\"$1" '$1 == t { printf "%.0f", $2 }' "$OUT/redis.csv"; fi; }
redis_p99() { if [ -s "$OUT/redis.csv" ]; then awk -F'","' -v t="\"$1" '$1 == t { print $7 }' "$OUT/redis.csv"; fi; }
pg_tps() { if have pgbench; then awk '/^tps = / { printf "%.0f", $3 }' "$OUT/pgbench.txt"; fi; }
pg_lat() { if have pgbench; then awk '/^latency average/ { print $4 }' "$OUT/pgbench.txt"; fi; }
pay_rate() { if have paybench; then sed -n 's/^paybench: .* = \([0-9]*\) payments\/s.*/\1/p' "$OUT/paybench.txt"; fi; }
row() { printf '%-34s %12s %10s %8s   %s\n' "$@"; }
# cpu_per_req NAME: CPU microseconds per request of the server (and of that, its
# own code's: the rest is the kernel's, mostly the socket reads and writes), Redis
# and wrk in a wrk run.
cpu_per_req() {
  if have "$1" && [ -s "$OUT/$1.cpu" ]; then
    awk -v n="$(requests "$1")" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); t[kv[1]] = kv[2] }
        u = 1e6 / t["hz"] / n
        printf "server %.1f (user %.1f), redis %.1f, wrk %.1f", t["server"] * u, t["server_user"] * u, t["redis"] * u, t["wrk"] * u
      }' "$OUT/$1.cpu"
  fi
}

bare=$(rps bare)
# bare_for STEP: the baseline STEP's ratio is taken against: bare-STEP, measured
# right before it, when PAIRED ran one, else the first bare run.
bare_for() { if have "bare-$1"; then rps "bare-$1"; else echo "$bare"; fi; }
set_p1=$(redis_ops "SET P1")
{
  echo
  echo "== concertd bench summary ($stamp, $(nproc) cores, $(uname -srm)${ONLY:+, ONLY=$ONLY}) =="
  row "run" "req/s" "p99 ms" "x bare" "goal"
  have bare && row "bare fasthttp (baseline)" "$bare" "$(p99 bare)" "1.00" "-"
  have poll && row "GET /api/queue/status" "$(rps poll)" "$(p99 poll)" "$(ratio "$(rps poll)" "$bare")" ">= 0.70x, p99 < 10 ms"
  have bare-pollredis && row "bare fasthttp, before pollredis" "$(rps bare-pollredis)" "$(p99 bare-pollredis)" "$(ratio "$(rps bare-pollredis)" "$bare")" "-"
  have pollredis && row "  the same, every poll to Redis" "$(rps pollredis)" "$(p99 pollredis)" "$(ratio "$(rps pollredis)" "$(bare_for pollredis)")" "(POLL_CACHE_AGE=0)"
  have bare-hold && row "bare fasthttp, just before hold" "$(rps bare-hold)" "$(p99 bare-hold)" "$(ratio "$(rps bare-hold)" "$bare")" "-"
  have hold && row "POST /api/reservations" "$(rps hold)" "$(p99 hold)" "$(ratio "$(rps hold)" "$(bare_for hold)")" ">= 0.60x, p99 < 10 ms"
  have hold-full && row "  the same, the seats all taken" "$(rps hold-full)" "$(p99 hold-full)" "$(ratio "$(rps hold-full)" "$(bare_for hold)")" "(refusals only)"
  have same-hold && row "  bare under hold's own requests" "$(rps same-hold)" "$(p99 same-hold)" "$(ratio "$(rps same-hold)" "$(bare_for hold)")" "hold / this: $(ratio "$(rps hold)" "$(rps same-hold)"), full: $(ratio "$(rps hold-full)" "$(rps same-hold)")"
  have bare-holdredis && row "bare fasthttp, before holdredis" "$(rps bare-holdredis)" "$(p99 bare-holdredis)" "$(ratio "$(rps bare-holdredis)" "$bare")" "-"
  have holdredis && row "  the same, every hold to Redis" "$(rps holdredis)" "$(p99 holdredis)" "$(ratio "$(rps holdredis)" "$(bare_for holdredis)")" "(HOLD_CACHE_AGE=0)"
  have bare-best && row "bare fasthttp, just before best" "$(rps bare-best)" "$(p99 bare-best)" "$(ratio "$(rps bare-best)" "$bare")" "-"
  have best && row "POST /api/reservations/best (2)" "$(rps best)" "$(p99 best)" "$(ratio "$(rps best)" "$(bare_for best)")" ">= 0.50x"
  have same-best && row "  bare under best's own requests" "$(rps same-best)" "$(p99 same-best)" "$(ratio "$(rps same-best)" "$(bare_for best)")" "best / this: $(ratio "$(rps best)" "$(rps same-best)")"
  have bare-issue && row "bare fasthttp, just before issue" "$(rps bare-issue)" "$(p99 bare-issue)" "$(ratio "$(rps bare-issue)" "$bare")" "-"
  have issue && row "POST /api/users/token (first)" "$(rps issue)" "$(p99 issue)" "$(ratio "$(rps issue)" "$(bare_for issue)")" ">= 0.50x"
  have same-issue && row "  bare under issue's own requests" "$(rps same-issue)" "$(p99 same-issue)" "$(ratio "$(rps same-issue)" "$(bare_for issue)")" "issue / this: $(ratio "$(rps issue)" "$(rps same-issue)")"
  have seatmap && row "GET seat map 50k (gzip, c64)" "$(rps seatmap)" "$(p99 seatmap)" "$(ratio "$(rps seatmap)" "$bare")" ">= 2,000 req/s"
  have bare-hold || have bare-issue || have bare-pollredis || have bare-holdredis || have bare-best && echo "  (pollredis, hold, holdredis, best and issue: x bare is against the bare run just before each; the bare rows' own x is against the first)"
  for r in bare poll bare-pollredis pollredis bare-hold hold hold-full same-hold bare-holdredis holdredis bare-best best same-best bare-issue issue same-issue; do
    have $r && echo "  $r: CPU us per request: $(cpu_per_req $r)"
  done
  if have poll; then
    pn=$(requests poll) pf=$(sed -n 's/^from cache: //p' "$OUT/poll.txt")
    echo "  poll: $(line poll '^5xx'); non-2xx $(non2xx poll); from concertd's memory $pf of $pn ($(share "$pf" "$pn"))"
  fi
  have pollredis && echo "  pollredis: non-2xx $(non2xx pollredis)"
  for r in hold holdredis; do
    if have $r; then
      hn=$(requests "$r") hm=$(sed -n 's/^refused from memory: //p' "$OUT/$r.txt")
      echo "  $r: $(line $r '^5xx'); $(line $r '^201') new holds; $(line $r '^200') the user's own hold again; non-2xx (409 SEAT_TAKEN etc.) $(non2xx $r); refused from concertd's memory $hm of $hn ($(share "$hm" "$hn"))"
    fi
  done
  have best && echo "  best: $(line best '^5xx'); $(line best '^201') pairs held; $(line best '^409') refused (409: none left on that schedule, or the hold limit)"
  if have issue; then
    i1=$(sed -n 's/^201: //p' "$OUT/issue.txt") i0=$(sed -n 's/^200: //p' "$OUT/issue.txt")
    echo "  issue: 201 (new place in line) $i1, 200 (same token again) $i0: $(share "$i1" "$((i1 + i0))") first issues; $(line issue '^5xx'); $(line issue '^issue:')"
  fi
  if [ -s "$OUT/redis.csv" ]; then
    echo
    row "redis-benchmark (baseline), c50" "ops/s" "p99 ms" "" ""
    for t in "SET P1" "GET P1" "ZADD P1" "EVAL P1" "SET P16" "GET P16" "ZADD P16"; do
      row "  $t" "$(redis_ops "$t")" "$(redis_p99 "$t")" "" ""
    done
    have poll && echo "  poll req/s / SET P1 ops/s = $(ratio "$(rps poll)" "$set_p1")   (each poll is one status.lua EVALSHA, batched)"
    have hold && echo "  hold req/s / SET P1 ops/s = $(ratio "$(rps hold)" "$set_p1")   (each hold is one hold.lua EVALSHA)"
    have issue && echo "  issue req/s / EVAL P1 ops/s = $(ratio "$(rps issue)" "$(redis_ops "EVAL P1")")   (each first issue is one enter.lua EVALSHA; users are read by block)"
  fi
  if have pgbench || have paybench; then
    echo
    have pgbench && echo "  pgbench (baseline) -N -c16 -j2 -M prepared: $(pg_tps) tps, latency average $(pg_lat) ms"
    have paybench && echo "  payments alone: $(line paybench '^paybench:')   goal >= 2,000/s"
    have paybench && echo "  payments/s / pgbench tps = $(ratio "$(pay_rate)" "$(pg_tps)")"
    have paybench && echo "  $(line paybench '^check:')"
  fi
  if have rush; then
    echo
    echo "  sale: $(cat "$OUT/rush.cmd")"
    echo "  sale: $(line rush '^(sold out|NOT sold out)')"
    echo "  sale: $(line rush '^completed payments')"
    echo "  sale: $(line rush '^admission')"
    echo "  invariants: $(grep -c '^ok' "$OUT/rush.txt" || true) ok, $(grep -c '^FAIL' "$OUT/rush.txt" || true) failed (rush exit $rush_rc)"
  fi
  echo "  raw output: $OUT"
} | tee "$OUT/summary.txt"
