# Figure 3: BLEU against peak offline throughput, one point per variant: the
# paper's quality/efficiency trade-off (up and to the right is better); each
# variant in its own colour (plots/variants.gp) and labelled: rows 1, 3, ...
# above their point, rows 2, 4, ... below, so that neighbours in the table
# (task-moe and task-subnet: the same BLEU by construction) do not overprint.
#   gnuplot -c plots/bleu_throughput.gp OUTBASE TITLE SUBTITLE BLEU_THROUGHPUT.dat ["VARIANT..."]
# VARIANT... names the rows of the data file in order.
# Writes OUTBASE.png and OUTBASE.svg (900 x 560 px). Data formats: plots/README.md.
if (ARGC < 4) {
    print "usage: gnuplot -c bleu_throughput.gp OUTBASE TITLE SUBTITLE BLEU_THROUGHPUT.dat"
    exit status 2
}
here = ""
do for [k=strlen(ARG0):1:-1] { if (here eq "" && ARG0[k:k] eq "/") { here = ARG0[1:k] } }
load here."variants.gp"
vl = ARGC >= 5 ? ARG5 : ""
if (vl eq "") {
    stats ARG4 using 2 nooutput
    do for [i=1:STATS_records] { vl = vl." row".i }
}
set datafile missing "-"
set title ARG2."\n".ARG3 noenhanced
set xlabel "peak throughput (target tokens/s, offline)"
set ylabel "BLEU (sacreBLEU-compatible, mean over tasks)"
set offsets graph 0.15, graph 0.15, graph 0.15, graph 0.15
set grid lc rgb "#dddddd"
do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 900,560 font "sans,11" noenhanced
    } else {
        set terminal svg size 900,560 font "sans,11" background rgb "white" noenhanced
    }
    set output ARG1.".".fmt
    plot for [i=1:words(vl)] ARG4 every ::(i-1)::(i-1) using 2:3 with points pt 7 ps 2 \
             lc rgb vcolor(word(vl, i)) notitle, \
         ARG4 every 2 using 2:3:1 with labels offset 0,1.4 noenhanced notitle, \
         ARG4 every 2::1 using 2:3:1 with labels offset 0,-1.4 noenhanced notitle
    unset output
}
