#!/usr/bin/env bash
# bench/instructions.sh: how many instructions redis-server runs for a Go
# benchmark's work, counted by valgrind's callgrind. Timing a script inside Redis
# (INFO commandstats) moves by 20-40% from round to round on a shared machine,
# which hides a change worth 5-10%; an instruction count is the same for the same
# work whatever else the machine does. Compare two builds of a script by running
# this once on each, with the same arguments.
#
#   bash bench/instructions.sh [BENCH] [N] [PKG]
#     BENCH  the benchmark, a go test -bench pattern (default BenchmarkHoldParallel/batch=32)
#     N      its iterations, -benchtime Nx (default 20000)
#     PKG    its package (default ./store/redisstore/)
#
# It starts a private redis-server under callgrind on REDIS_PORT (default 6390;
# nothing kept on disk), zeroes the counters once the server answers, runs the
# benchmark against it (TEST_REDIS_URL) and prints the total with Redis's own
# INFO commandstats. The count includes the benchmark's setup: run it again with
# a smaller N and take the difference for a per-operation figure. Needs valgrind
# (callgrind_control, callgrind_annotate) and redis-server.
#
# REDIS_BIN names another redis-server. Debian's is stripped, so callgrind can
# only count; one built with symbols also shows where the instructions go (the
# 25 functions costing most on their own, and Lua's share):
#   apt-get source redis   # needs a deb-src line for bookworm-security
#   make -C redis-7.0.15 -j2 MALLOC=libc CFLAGS=-g
#   REDIS_BIN=$PWD/redis-7.0.15/src/redis-server bash bench/instructions.sh BenchmarkBest50k 2000
set -euo pipefail
cd "$(dirname "$0")/.."

bench=${1:-BenchmarkHoldParallel/batch=32}
n=${2:-20000}
pkg=${3:-./store/redisstore/}
port=${REDIS_PORT:-6390}
out=$(mktemp -d)
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$out"' EXIT

valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
  "${REDIS_BIN:-redis-server}" --port "$port" --save '' --appendonly no >"$out/redis.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.2
done
redis-cli -p "$port" ping >/dev/null || { cat "$out/redis.log" >&2; exit 1; }
callgrind_control -z "$pid" >/dev/null

TEST_REDIS_URL="redis://127.0.0.1:$port/0" go test -count=1 -run '^$' -bench "$bench" -benchtime "${n}x" "$pkg" |
  grep -E '^Benchmark' || true
redis-cli -p "$port" info commandstats | tr -d '\r' | grep '^cmdstat_' | sort -t= -k3 -n -r | head -20
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
wait "$pid" || true
echo "redis-server instructions: $(callgrind_annotate "$out/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { print $1; exit }')"
if [ -n "${REDIS_BIN:-}" ]; then
  echo "by function, own cost:"
  callgrind_annotate --inclusive=no --threshold=100 "$out/callgrind.out" 2>/dev/null |
    grep -E '^ *[0-9,]+ \( *[0-9.]+%\)  [^ ]+:[^ ]+ \[' | grep -v '(100.0%)' | sed -n 1,25p
  echo "Lua scripts, with their redis.call work (inclusive):"
  callgrind_annotate --inclusive=yes --threshold=100 "$out/callgrind.out" 2>/dev/null |
    grep -E '^ *[0-9,]+ .*(lapi.c:lua_pcall|script_lua.c:luaRedisGenericCommand) ' || true
fi
