# gnuplot script: a whole sale over time, from `rush -timeline sale.csv` (a line per
# second: elapsed_s, req_per_s, p99_ms, admitted_per_s, paid_per_s, waiting).
#   gnuplot -e "in='sale.csv'; out='bench/rush.png'; title='...'" bench/rush-plot.gp
set terminal pngcairo size 1200,700 font ",10"
set output out
set datafile separator ","
set key autotitle columnhead
set multiplot layout 2,1 title title
set grid
set xlabel "seconds into the sale"
set ylabel "requests/s"
set y2label "p99 latency (ms)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
plot in using 1:2 with lines lw 2 lc rgb "#1f77b4" title "requests/s (all endpoints)", \
     in using 1:3 axes x1y2 with lines lw 1 lc rgb "#d62728" title "p99 of the requests that second (ms, right)"
unset y2tics
unset y2label
set ylabel "per second"
set y2label "users waiting"
set y2tics
plot in using 1:4 with lines lw 2 lc rgb "#2ca02c" title "admitted/s", \
     in using 1:5 with lines lw 2 lc rgb "#ff7f0e" title "completed payments/s", \
     in using 1:6 axes x1y2 with lines lw 1 dt 2 lc rgb "#7f7f7f" title "waiting (right)"
unset multiplot
