# Figure 5: compute kernels per backend and precision: achieved GFLOP/s as a
# share of the machine's peak compute, and bandwidth as a share of its peak
# bandwidth (from `moebench kernels --csv`), one pair of bars per kernel.
#   gnuplot -c plots/kernels.gp OUTBASE TITLE SUBTITLE KERNELS.dat
# Writes OUTBASE.png and OUTBASE.svg (800 px wide). Data formats: plots/README.md.
if (ARGC < 4) {
    print "usage: gnuplot -c kernels.gp OUTBASE TITLE SUBTITLE KERNELS.dat"
    exit status 2
}
set datafile missing "-"
stats ARG4 using 1 nooutput
rows = STATS_records
set title ARG2."\n".ARG3 noenhanced
set xlabel "achieved, % of the machine's limit\nblue: compute (GFLOP/s); orange: bandwidth (GB/s)"
set xrange [0:140]
set xtics 0,20,100
set yrange [rows-0.5:-0.5]
set ytics scale 0 noenhanced
set grid xtics lc rgb "#dddddd"
unset key
set style fill solid 0.85 border -1
height = 170 + 55 * rows
do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 800,height font "sans,11" noenhanced
    } else {
        set terminal svg size 800,height font "sans,11" background rgb "white" noenhanced
    }
    set output ARG1.".".fmt
    plot ARG4 using (0):1:ytic(2) with points ps 0 notitle, \
         '' using (50*$5):($1-0.2):(0):(100*$5):($1-0.38):($1-0.02) with boxxyerror lc rgb "#3182bd" notitle, \
         '' using (50*$8):($1+0.2):(0):(100*$8):($1+0.02):($1+0.38) with boxxyerror lc rgb "#e6550d" notitle, \
         '' using (100*$5):($1-0.2):(sprintf(" %.0f of %.0f GFLOP/s", $3, $4)) with labels left font ",9" notitle, \
         '' using (100*$8):($1+0.2):(sprintf(" %.1f of %.0f GB/s", $6, $7)) with labels left font ",9" notitle
    unset output
}
