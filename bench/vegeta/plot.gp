# gnuplot script: latency over time of vegeta runs (CSV from `vegeta encode --to csv`:
# unix ns timestamp, status code, latency ns, ...). Called by bench/vegeta/run.sh with
#   -e "out='x.png'; poll='poll.csv'; hold='hold.csv'; pay='pay.csv'; title='...'"
set terminal pngcairo size 1200,600 font ",10"
set output out
set datafile separator ","
set title title
set xlabel "seconds into the run"
set ylabel "latency (ms, log scale)"
set logscale y
set grid
set key outside right top
t0p = system("head -1 " . poll . " | cut -d, -f1") / 1e9
t0h = system("head -1 " . hold . " | cut -d, -f1") / 1e9
t0y = system("head -1 " . pay . " | cut -d, -f1") / 1e9
plot poll using ($1/1e9 - t0p):($3/1e6) every 5 with points pt 7 ps 0.25 lc rgb "#1f77b4" title "GET /api/queue/status", \
     hold using ($1/1e9 - t0h):($3/1e6) every 5 with points pt 7 ps 0.25 lc rgb "#ff7f0e" title "POST /api/reservations", \
     pay  using ($1/1e9 - t0y):($3/1e6) with points pt 7 ps 0.25 lc rgb "#2ca02c" title "POST /api/payments"
