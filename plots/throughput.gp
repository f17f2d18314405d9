# Figure 1: offline throughput (target tokens/s) against batch size, one line
# per variant, log x axis, the peak of each variant marked. The paper's
# "peak throughput" is the top of this sweep. Peaks are circled, not labelled:
# several often sit at the same batch size and their labels would overlap.
#   gnuplot -c plots/throughput.gp OUTBASE TITLE SUBTITLE THROUGHPUT.dat PEAK.dat
# Writes OUTBASE.png and OUTBASE.svg (800 px wide). Data formats: plots/README.md.
if (ARGC < 5) {
    print "usage: gnuplot -c throughput.gp OUTBASE TITLE SUBTITLE THROUGHPUT.dat PEAK.dat"
    exit status 2
}
set datafile missing "-"
# Distinct colours for up to eight variants (a colour-blind-safe qualitative set).
set linetype 1 lc rgb "#0072b2"
set linetype 2 lc rgb "#e69f00"
set linetype 3 lc rgb "#009e73"
set linetype 4 lc rgb "#d55e00"
set linetype 5 lc rgb "#cc79a7"
set linetype 6 lc rgb "#56b4e9"
set linetype 7 lc rgb "#7f7f7f"
set linetype 8 lc rgb "#000000"
set title ARG2."\n".ARG3 noenhanced
set xlabel "batch size (sentences per batch, log scale)"
set ylabel "throughput (target tokens/s)"
set logscale x 2
set format x "%g"
set offsets graph 0.05, graph 0.05, graph 0.12, 0
set yrange [0:*]
set grid lc rgb "#dddddd"
set key outside right top noenhanced
do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 800,500 font "sans,11" noenhanced
    } else {
        set terminal svg size 800,500 font "sans,11" background rgb "white" noenhanced
    }
    set output ARG1.".".fmt
    plot for [i=0:*] ARG4 index i using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 0.8 title columnheader(1), \
         ARG5 using 2:3 with points pt 6 ps 2.5 lw 2 lc rgb "black" title "peak"
    unset output
}
