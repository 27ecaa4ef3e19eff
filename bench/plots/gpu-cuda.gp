# bench/notebook/gpu.md (CUDA through PyTorch, NVIDIA H100, 2026-11-26): gnuplot bench/plots/gpu-cuda.gp
# Data: bench/gpu/output_layer_torch.py (no prefix) and bench/gpu/encoder_torch.py (64 tokens), copied from their printout.
set terminal pngcairo size 1200,480 font "sans,11"
set output "bench/plots/gpu-cuda.png"
set multiplot layout 1,2
set grid
set logscale xy
set xtics (1, 16, 64, 256)
set style line 1 lc rgb "#d62728" lw 2 pt 7 ps 1.2
set style line 2 lc rgb "#d62728" lw 2 pt 5 ps 1.2 dt 2
set style line 3 lc rgb "#1f77b4" lw 2 pt 7 ps 1.2
set style line 4 lc rgb "#1f77b4" lw 2 pt 5 ps 1.2 dt 2
set style line 5 lc rgb "#7f7f7f" lw 1.5 pt 9 ps 1 dt 3

$OL << EOD
# batch  cuda-lazy cuda-dense cuda-every  cpu-lazy cpu-dense cpu-every
16  258.0 11.4 139.7  91.5 886.0 222.1
64   87.6  3.0  36.7  51.3 577.7 284.9
256  34.6  2.0   9.6  33.9 538.5 300.2
EOD
set title "Output layer, exact top-3, no prefix: µs per row\n{/*0.85 lstm512-keyboard, 256 test-split rows; lower is better}"
set xlabel "batch (rows)"
set ylabel "µs per row"
set xrange [12:340]
set yrange [1:30000]
set key top right
plot $OL using 1:2 with linespoints ls 1 title "CUDA lazy", \
     ""  using 1:3 with linespoints ls 2 title "CUDA dense twin", \
     ""  using 1:4 with linespoints ls 5 lc rgb "#d62728" title "CUDA every tail", \
     ""  using 1:5 with linespoints ls 3 title "CPU (1 thread) lazy", \
     ""  using 1:6 with linespoints ls 4 title "CPU (1 thread) dense twin"

$ENC << EOD
# batch  cuda-64tok cpu-64tok
1    1095   70
16  12092  379
64  49974  488
256 158527 464
EOD
set title "Encoder+head arithmetic, 64-token contexts: rows/s\n{/*0.85 cuDNN LSTM 512 vs one CPU thread, same host; higher is better}"
set xrange [0.8:340]
set yrange [10:3e6]
set xtics (1, 16, 64, 256)
set ylabel "rows/s"
set key top left
plot $ENC using 1:2 with linespoints ls 1 title "NVIDIA H100 (CUDA, PyTorch 2.11)", \
     ""   using 1:3 with linespoints ls 3 title "CPU, 1 thread (PyTorch, same host)"
unset multiplot
