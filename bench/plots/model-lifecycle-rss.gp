# The picture of bench/model-lifecycle.ts (which runs it with D = its output folder and OUT = the png):
# left, the server's RSS after each load/unload cycle of model B (and with B loaded), per series;
# right, B's graphs opened, run and released in one thread vs in a worker thread per cycle.
load D."vars.gp"

set terminal pngcairo size 1200,480 font "sans,10"
set output OUT
set grid
set key bottom right
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 0.8
set style line 2 lc rgb "#d62728" lw 2 pt 5 ps 0.8
set style line 3 lc rgb "#2ca02c" lw 2 pt 9 ps 0.8
set style line 4 lc rgb "#9467bd" lw 2 pt 11 ps 0.8

set multiplot layout 1,2 title title
set title "server RSS per cycle (dashed: B loaded)"
set xlabel "cycle (0: before the first)"
set xtics 2
set ylabel "RSS (MB)"
set yrange [0:*]
plot for [i=0:series-1] D."rss.dat" index i using 1:4 with linespoints ls (i+1) title value("label".i)." after unload", \
     for [i=0:series-1] D."rss.dat" index i using 1:3 with lines ls (i+1) dt 2 notitle

set title "B's graphs opened, run, released (a fresh process)"
set ylabel "process RSS (MB)"
if (contrasts > 0) {
  plot for [i=0:contrasts-1] D."contrast.dat" index i using 1:2 with linespoints ls (i+3) title value("contrast".i)
}
unset multiplot
