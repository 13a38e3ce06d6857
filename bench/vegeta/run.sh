#!/usr/bin/env bash
# bench/vegeta/run.sh: constant-rate runs of poll, hold and pay against a running
# concertd, then a latency-over-time plot (PNG via gnuplot, plus vegeta's HTML).
# wrk measures how much a server can take; vegeta at a fixed rate below that
# shows what latency a client sees at a given load, without coordinated omission.
#
#   ADMIN_KEY=... bench/vegeta/run.sh [ADDR] [OUTDIR]
# Environment: POLL_RATE (default 5000/s), HOLD_RATE (3000/s), PAY_RATE (600/s),
# DURATION (20s; the pay run stops early when its holds run out).
set -euo pipefail
cd "$(dirname "$0")/../.."
ADDR=${1:-127.0.0.1:8080}
OUT=${2:-bench/out/vegeta-$(date -u +%Y%m%dT%H%M%SZ)}
POLL_RATE=${POLL_RATE:-5000}
HOLD_RATE=${HOLD_RATE:-3000}
PAY_RATE=${PAY_RATE:-600}
DURATION=${DURATION:-20s}
: "${ADMIN_KEY:?set ADMIN_KEY}"
command -v vegeta >/dev/null || { echo "vegeta: go install github.com/tsenart/vegeta/v12@v12.13.0" >&2; exit 1; }
mkdir -p "$OUT"
go build -o "$OUT/rush" ./cmd/rush
rush() { "$OUT/rush" setup -addr "$ADDR" -admin-key "$ADMIN_KEY" "$@"; }

eval "$(rush -mode poll -users 10000 -out "$OUT/poll.tokens")"
python3 bench/vegeta/targets.py poll "$ADDR" "$OUT/poll.tokens" >"$OUT/poll.targets"
eval "$(rush -mode hold -users 1000 -seats 100000 -out "$OUT/hold.tokens")"
python3 bench/vegeta/targets.py hold "$ADDR" "$OUT/hold.tokens" "$SCHEDULE_ID" 100000 >"$OUT/hold.targets"
eval "$(rush -mode pay -users 3000 -seats 12000 -out "$OUT/pay.lines")"
python3 bench/vegeta/targets.py pay "$ADDR" "$OUT/pay.lines" >"$OUT/pay.targets"

attack() { # name rate
  echo "vegeta attack -format=json -targets=$1.targets -rate=$2/s -duration=$DURATION -max-workers=512 | vegeta report" >"$OUT/$1.cmd"
  vegeta attack -format=json -targets="$OUT/$1.targets" -rate="$2/s" -duration="$DURATION" -max-workers=512 -timeout=10s >"$OUT/$1.bin"
  vegeta report "$OUT/$1.bin" | tee "$OUT/$1.report"
  vegeta encode --to csv "$OUT/$1.bin" | sort -t, -k1,1n >"$OUT/$1.csv"
}
attack poll "$POLL_RATE"
attack hold "$HOLD_RATE"
# 12,000 holds to pay: at PAY_RATE the run ends when they are used up.
attack pay "$PAY_RATE"

# vegeta plot wants each series in time order; the attack writes results as they
# complete, so it reads the sorted CSVs.
vegeta plot -title "concertd latency at constant rate" "$OUT/poll.csv" "$OUT/hold.csv" "$OUT/pay.csv" >"$OUT/latency.html" ||
  echo "vegeta plot failed; the PNG below does not need it" >&2
if command -v gnuplot >/dev/null; then
  gnuplot -e "out='$OUT/latency.png'; poll='$OUT/poll.csv'; hold='$OUT/hold.csv'; pay='$OUT/pay.csv'; title='concertd at constant rate: poll ${POLL_RATE}/s, hold ${HOLD_RATE}/s, pay ${PAY_RATE}/s (2 shared cores)'" bench/vegeta/plot.gp
  echo "plot: $OUT/latency.png"
fi
echo "html: $OUT/latency.html"
