# KSR vs k in both modes of bench/ksr (run from the repository root: gnuplot
# bench/plots/ksr-exact.gp, after `ksr.ts --case exact` wrote bench/out/ksr-exact/;
# the lower-case lines come from bench/out/ksr/ when it exists).
# Writes bench/plots/ksr-exact-vs-k.png.
E = "bench/out/ksr-exact/"
L = "bench/out/ksr/"
load E."vars.gp"
have_lower = system("test -f ".L."by-k.dat && echo 1 || echo 0") + 0

set terminal pngcairo size 900,560 font "sans,11"
set grid
set key bottom right
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 1.2
set style line 2 lc rgb "#d62728" lw 2 pt 5 ps 1.2
set style line 3 lc rgb "#1f77b4" lw 2 dt 2 pt 6 ps 1.2
set style line 4 lc rgb "#d62728" lw 2 dt 2 pt 4 ps 1.2

set output "bench/plots/ksr-exact-vs-k.png"
set title "Keystroke savings vs k: exact case (shift costs, exact-case matches) and lower case\n{/*0.8 ".run_label."}"
set xlabel "k (suggestions shown)"
set ylabel "KSR (%)"
set xrange [0.5:5.5]
set xtics 1
set yrange [0:*]
if (have_lower) {
  plot E."by-k.dat" using 1:(100*$2) with linespoints ls 1 title "nextword, exact case", \
       ""           using 1:(100*$3) with linespoints ls 2 title "presage + keyboard casing, exact case", \
       L."by-k.dat" using 1:(100*$2) with linespoints ls 3 title "nextword, lower case", \
       ""           using 1:(100*$3) with linespoints ls 4 title "presage, lower case"
} else {
  plot E."by-k.dat" using 1:(100*$2) with linespoints ls 1 title "nextword, exact case", \
       ""           using 1:(100*$3) with linespoints ls 2 title "presage + keyboard casing, exact case"
}
