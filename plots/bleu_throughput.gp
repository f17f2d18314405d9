# Figure 3: BLEU against peak offline throughput, one point per variant: the
# paper's quality/efficiency trade-off (up and to the right is better).
#   gnuplot -c plots/bleu_throughput.gp OUTBASE TITLE SUBTITLE BLEU_THROUGHPUT.dat
# Writes OUTBASE.png and OUTBASE.svg (800 px wide). Data formats: plots/README.md.
if (ARGC < 4) {
    print "usage: gnuplot -c bleu_throughput.gp OUTBASE TITLE SUBTITLE BLEU_THROUGHPUT.dat"
    exit status 2
}
set datafile missing "-"
set title ARG2."\n".ARG3 noenhanced
set xlabel "peak throughput (target tokens/s, offline)"
set ylabel "BLEU (sacreBLEU-compatible, mean over tasks)"
set offsets graph 0.15, graph 0.15, graph 0.15, graph 0.15
set grid lc rgb "#dddddd"
do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 800,500 font "sans,11" noenhanced
    } else {
        set terminal svg size 800,500 font "sans,11" background rgb "white" noenhanced
    }
    set output ARG1.".".fmt
    plot ARG4 using 2:3 with points pt 7 ps 2 lc rgb "#2171b5" notitle, \
         ARG4 using 2:3:1 with labels offset 0,1.4 noenhanced notitle
    unset output
}
