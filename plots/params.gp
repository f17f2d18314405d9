# Figure 4: parameters per variant (the paper's model-size table as bars):
# total, loaded to serve one task, active per token, in greys: colours are
# kept for variants (plots/variants.gp), and here the variants are the x axis.
#   gnuplot -c plots/params.gp OUTBASE TITLE SUBTITLE PARAMS.dat [log|linear]
# Writes OUTBASE.png and OUTBASE.svg (900 x 560 px). Data formats: plots/README.md.
if (ARGC < 4) {
    print "usage: gnuplot -c params.gp OUTBASE TITLE SUBTITLE PARAMS.dat [log|linear]"
    exit status 2
}
set datafile missing "-"
set title ARG2."\n".ARG3 noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xlabel "variant"
if (ARGC >= 5 && ARG5 eq "log") {
    set logscale y
    set ylabel "parameters (millions, log scale)"
} else {
    set yrange [0:*]
    set ylabel "parameters (millions)"
}
set offsets 0, 0, graph 0.1, 0
set grid ytics lc rgb "#dddddd"
set key top right noenhanced
do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 900,560 font "sans,11" noenhanced
    } else {
        set terminal svg size 900,560 font "sans,11" background rgb "white" noenhanced
    }
    set output ARG1.".".fmt
    plot ARG4 using 2:xtic(1) title "total" lc rgb "#404040", \
         '' using 3 title "served per task" lc rgb "#8c8c8c", \
         '' using 4 title "active per token" lc rgb "#d0d0d0"
    unset output
}
