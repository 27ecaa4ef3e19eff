# Plots of bench/ksr (run from the repository root: gnuplot bench/plots/ksr.gp,
# after bench/ksr/ksr.ts wrote bench/out/ksr/*.dat; bash bench/ksr/run.sh does both).
# Writes bench/plots/{ksr-vs-k,hit-vs-k,latency,tail-latency}.png.
D = "bench/out/ksr/"
load D."vars.gp"

set terminal pngcairo size 900,560 font "sans,11"
set grid
set key top left
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 1.2
set style line 2 lc rgb "#d62728" lw 2 pt 5 ps 1.2
set style line 3 lc rgb "#2ca02c" lw 2 pt 9 ps 1.2

# KSR vs k
set output "bench/plots/ksr-vs-k.png"
set title "Keystroke savings vs k\n{/*0.8 ".run_label."}"
set xlabel "k (suggestions shown)"
set ylabel "KSR (%)"
set xrange [0.5:5.5]
set xtics 1
set yrange [0:*]
plot D."by-k.dat" using 1:(100*$2) with linespoints ls 1 title "nextword service", \
     ""           using 1:(100*$3) with linespoints ls 2 title "presage (3-gram, same training split)"

# next-word hit rate vs k
set output "bench/plots/hit-vs-k.png"
set title "Next-word hit rate (word among the k suggestions before its first letter)\n{/*0.8 ".run_label."}"
set ylabel "hit rate at top-k (%)"
plot D."by-k.dat" using 1:(100*$4) with linespoints ls 1 title "nextword service", \
     ""           using 1:(100*$5) with linespoints ls 2 title "presage (3-gram, same training split)"

# latency per query: cumulative distribution at k = cdf_k
set output "bench/plots/latency.png"
set title sprintf("Latency per query, k = %d, one query at a time\n{/*0.8 service: REST round trip on loopback; presage: pipe round trip to the driver}\n{/*0.8 %s}", cdf_k, run_label)
set xlabel "latency per query (ms, log scale)"
set ylabel "fraction of queries"
set logscale x
set xrange [*:*]
set yrange [0:1]
set xtics auto
set key bottom right
plot D."latency-service.dat" using 1:2 with lines ls 1 title "nextword service", \
     D."latency-presage.dat" using 1:2 with lines ls 2 title "presage"
unset logscale x

# per-cluster tail latency from /metrics (nextword_tail_duration_seconds{cluster})
if (have_tails) {
  set output "bench/plots/tail-latency.png"
  set terminal pngcairo size 1400,600 font "sans,10"
  set title "Tail-cluster graph call latency by cluster (service /metrics histogram nextword\\_tail\\_duration\\_seconds, bucket-interpolated p50 / p90 / p99)\n{/*0.8 ".run_label."}"
  set xlabel "cluster (index and manifest label: band:first letter); calls per cluster in bench/out/ksr.json"
  set ylabel "ms per call (log scale)"
  set logscale y
  set yrange [*:*]
  set xrange [-1:*]
  set xtics rotate by 90 right font ",8"
  set key top left
  plot D."tail.dat" using 1:6:xtic(2) with points ls 3 pt 9 title "p90", \
       ""           using 1:5 with points ls 1 title "p50", \
       ""           using 1:7 with points ls 2 title "p99"
}
