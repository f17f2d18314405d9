# Figure 2: latency per sentence. Left: p50/p90/p99 per variant in
# single-stream mode (batch 1), percentiles in greys (colours mean variants). Right: p99 (solid) and p50 (dashed) against
# offered load in server mode, one colour per variant (plots/variants.gp),
# with the scenario's p99 latency bound as a dotted line. A panel whose data
# file is "" is left out (the figure is then one panel, same size).
#   gnuplot -c plots/latency.gp OUTBASE TITLE SUBTITLE SINGLE_STREAM.dat SERVER.dat ["VARIANT..." [BOUND_MS]]
# VARIANT... names the blocks of SERVER.dat in order; BOUND_MS "" = no bound.
# Writes OUTBASE.png and OUTBASE.svg (900 x 560 px). Data formats: plots/README.md.
if (ARGC < 5) {
    print "usage: gnuplot -c latency.gp OUTBASE TITLE SUBTITLE SINGLE_STREAM.dat|'' SERVER.dat|'' ['VARIANT...' [BOUND_MS]]"
    exit status 2
}
here = ""
do for [k=strlen(ARG0):1:-1] { if (here eq "" && ARG0[k:k] eq "/") { here = ARG0[1:k] } }
load here."variants.gp"
ss = ARG4
sv = ARG5
vl = ARGC >= 6 ? ARG6 : ""
bound = ARGC >= 7 && ARG7 ne "" ? real(ARG7) : -1
panels = (ss ne "" ? 1 : 0) + (sv ne "" ? 1 : 0)
if (panels == 0) {
    print "latency.gp: no data file given"
    exit status 2
}
if (sv ne "" && vl eq "") {
    # without names, one block per colour of the table's order
    stats sv using 1 nooutput
    do for [i=1:STATS_blocks] { vl = vl." block".i }
}
set datafile missing "-"
set grid ytics lc rgb "#dddddd"
do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 900,560 font "sans,11" noenhanced
    } else {
        set terminal svg size 900,560 font "sans,11" background rgb "white" noenhanced
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
        set offsets 0, 0, graph 0.15, 0
        set xtics rotate by 30 right noenhanced
        set key default
        set key inside top left noenhanced
        plot ss using 2:xtic(1) title "p50" lc rgb "#d0d0d0", \
             '' using 3 title "p90" lc rgb "#8c8c8c", \
             '' using 4 title "p99" lc rgb "#404040"
        set xtics norotate
        unset style data
        set style fill empty
        set offsets 0, 0, 0, 0
    }
    if (sv ne "") {
        set xlabel "offered load (Poisson arrivals, requests/s)"
        set ylabel "latency (ms): p99 solid, p50 dashed"
        set yrange [0:*]
        set xrange [0:*]
        set offsets graph 0.05, graph 0.05, graph 0.15, 0
        # the key under the panel: inside, it would sit on the bound line or the curves
        set key default
        set key bmargin center horizontal maxrows 4 font ",9" samplen 1.5 width 1 noenhanced
        if (bound > 0) {
            plot for [i=1:words(vl)] sv index (i-1) using 1:4 with linespoints lw 2 pt 7 \
                     lc rgb vcolor(word(vl, i)) title columnheader(1), \
                 for [i=1:words(vl)] sv index (i-1) using 1:2 with linespoints lw 1 dt 2 pt 6 \
                     lc rgb vcolor(word(vl, i)) notitle, \
                 bound with lines dt 3 lw 2 lc rgb "black" title sprintf("p99 bound %g ms", bound)
        } else {
            plot for [i=1:words(vl)] sv index (i-1) using 1:4 with linespoints lw 2 pt 7 \
                     lc rgb vcolor(word(vl, i)) title columnheader(1), \
                 for [i=1:words(vl)] sv index (i-1) using 1:2 with linespoints lw 1 dt 2 pt 6 \
                     lc rgb vcolor(word(vl, i)) notitle
        }
        set xrange [*:*]
        set offsets 0, 0, 0, 0
    }
    unset multiplot
    unset output
}
