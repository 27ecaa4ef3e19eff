# KSR vs k with a noisy typist (run from the repository root: gnuplot
# bench/plots/ksr-noisy.gp, after `ksr.ts --typos RATE` wrote bench/out/ksr-noisy/;
# dashed: the clean run of bench/out/ksr/ when it exists; dotted: the service
# with correct off, noisy (`--request '{"casing":false,"blockOffensive":false,"correct":false}'
# --out bench/out/ksr-noisy-off.json --plot-data bench/out/ksr-noisy-off`) when it exists).
# Writes bench/plots/ksr-noisy-vs-k.png.
N = "bench/out/ksr-noisy/"
C = "bench/out/ksr/"
O = "bench/out/ksr-noisy-off/"
load N."vars.gp"
have_clean = system("test -f ".C."by-k.dat && echo 1 || echo 0") + 0
have_off = system("test -f ".O."by-k.dat && echo 1 || echo 0") + 0

set terminal pngcairo size 900,560 font "sans,11"
set grid
set key bottom right
set style line 1 lc rgb "#1f77b4" lw 2 pt 7 ps 1.2
set style line 2 lc rgb "#d62728" lw 2 pt 5 ps 1.2
set style line 3 lc rgb "#1f77b4" lw 2 dt 2 pt 6 ps 1.2
set style line 4 lc rgb "#d62728" lw 2 dt 2 pt 4 ps 1.2
set style line 5 lc rgb "#2ca02c" lw 2 dt 3 pt 9 ps 1.2

set output "bench/plots/ksr-noisy-vs-k.png"
set title "Keystroke savings vs k: noisy typist (solid) and clean (dashed)\n{/*0.8 ".run_label."}"
set xlabel "k (suggestions shown)"
set ylabel "KSR (%)"
set xrange [0.5:5.5]
set xtics 1
set yrange [*:*]

noisy = "'".N."by-k.dat' using 1:(100*$2) with linespoints ls 1 title 'nextword, noisy', '' using 1:(100*$3) with linespoints ls 2 title 'presage, noisy'"
clean = have_clean ? ", '".C."by-k.dat' using 1:(100*$2) with linespoints ls 3 title 'nextword, clean', '' using 1:(100*$3) with linespoints ls 4 title 'presage, clean'" : ""
off = have_off ? ", '".O."by-k.dat' using 1:(100*$2) with linespoints ls 5 title 'nextword, correct off, noisy'" : ""
# One plot command, built from the lines whose data exist.
eval "plot ".noisy.clean.off
