# Figure 1: offline throughput (target tokens/s) against batch size, one line
# per variant in its own colour (plots/variants.gp), log x axis, bars min-max
# of the repetitions. The paper's "peak throughput" is the top of this sweep:
# each variant's peak is circled and labelled with its value; moebench report
# spreads labels that would overlap (column label_y of PEAK.dat).
#   gnuplot -c plots/throughput.gp OUTBASE TITLE SUBTITLE THROUGHPUT.dat PEAK.dat ["VARIANT..."]
# VARIANT... names the blocks of THROUGHPUT.dat (and the rows of PEAK.dat) in
# order. Writes OUTBASE.png and OUTBASE.svg (900 x 560 px). Data formats: plots/README.md.
if (ARGC < 5) {
    print "usage: gnuplot -c throughput.gp OUTBASE TITLE SUBTITLE THROUGHPUT.dat PEAK.dat ['VARIANT...']"
    exit status 2
}
here = ""
do for [k=strlen(ARG0):1:-1] { if (here eq "" && ARG0[k:k] eq "/") { here = ARG0[1:k] } }
load here."variants.gp"
vl = ARGC >= 6 ? ARG6 : ""
if (vl eq "") { # without names: one (grey) line per block
    stats ARG4 using 1 nooutput
    do for [i=1:STATS_blocks] { vl = vl." block".i }
}
set datafile missing "-"
set title ARG2."\n".ARG3 noenhanced
set xlabel "batch size (sentences per batch, log scale)"
set ylabel "throughput (target tokens/s)"
set logscale x 2
set format x "%g"
# room above for the key and right of the largest batch for the peak labels
set offsets graph 0.04, graph 0.16, graph 0.14, 0
set yrange [0:*]
set grid lc rgb "#dddddd"
set key outside right top noenhanced
set rmargin at screen 0.80
# peak labels on an opaque white box, so that a line passing under one does not hide it
set style textbox opaque noborder margins 1,1
do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 900,560 font "sans,11" noenhanced
    } else {
        set terminal svg size 900,560 font "sans,11" background rgb "white" noenhanced
    }
    set output ARG1.".".fmt
    plot for [i=1:words(vl)] ARG4 index (i-1) using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 0.8 \
             lc rgb vcolor(word(vl, i)) title word(vl, i), \
         ARG5 using 2:3 with points pt 6 ps 2.5 lw 2 lc rgb "black" title "peak (tokens/s)", \
         for [i=1:words(vl)] ARG5 every ::(i-1)::(i-1) using 2:4:(sprintf("%.0f", $3)) with labels left boxed \
             offset 1.6,0 font ",10" tc rgb vcolor(word(vl, i)) notitle
    unset output
}
