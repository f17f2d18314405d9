# Figure 2: latency per sentence. Left: p50/p90/p99 per variant in
# single-stream mode (batch 1). Right: p50 (dashed) and p99 (solid) against
# offered load in server mode. A panel whose data file is "" is left out.
#   gnuplot -c plots/latency.gp OUTBASE TITLE SUBTITLE SINGLE_STREAM.dat SERVER.dat
# Writes OUTBASE.png and OUTBASE.svg (800 px wide). Data formats: plots/README.md.
if (ARGC < 5) {
    print "usage: gnuplot -c latency.gp OUTBASE TITLE SUBTITLE SINGLE_STREAM.dat|'' SERVER.dat|''"
    exit status 2
}
ss = ARG4
sv = ARG5
panels = (ss ne "" ? 1 : 0) + (sv ne "" ? 1 : 0)
if (panels == 0) {
    print "latency.gp: no data file given"
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
set grid ytics lc rgb "#dddddd"
do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 800,500 font "sans,11" noenhanced
    } else {
        set terminal svg size 800,500 font "sans,11" background rgb "white" noenhanced
    }
    set output ARG1.".".fmt
    set multiplot layout 1,panels title ARG2."\n".ARG3 noenhanced
    if (ss ne "") {
        set style data histograms
        set style histogram clustered gap 1
        set style fill solid 0.85 border -1
        set boxwidth 0.9
        set xlabel "variant (single-stream, batch 1)"
        set ylabel "latency per sentence (ms)"
        set yrange [0:*]
        set offsets 0, 0, graph 0.1, 0
        set xtics rotate by 30 right noenhanced
        set key top left noenhanced
        plot ss using 2:xtic(1) title "p50" lc rgb "#9ecae1", \
             '' using 3 title "p90" lc rgb "#4292c6", \
             '' using 4 title "p99" lc rgb "#08519c"
        set xtics norotate
        unset style data
        set style fill empty
        set offsets 0, 0, 0, 0
    }
    if (sv ne "") {
        set xlabel "offered load (requests/s)"
        set ylabel "latency (ms): p99 solid, p50 dashed"
        set yrange [0:*]
        set xrange [0:*]
        set offsets graph 0.05, graph 0.05, graph 0.1, 0
        set key top left noenhanced
        plot for [i=0:*] sv index i using 1:4 with linespoints lw 2 pt 7 lc i+1 title columnheader(1), \
             for [i=0:*] sv index i using 1:2 with linespoints lw 1 dt 2 pt 6 lc i+1 notitle
        set xrange [*:*]
        set offsets 0, 0, 0, 0
    }
    unset multiplot
    unset output
}
