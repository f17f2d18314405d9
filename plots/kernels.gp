# Figure 5: compute kernels of one backend and precision: achieved GFLOP/s as
# a share of the machine's peak compute (blue) and bandwidth as a share of its
# peak bandwidth (orange), from `moebench kernels --csv`, one pair of bars per
# kernel, each labelled with the rate and the limit. Fixed size whatever the
# number of kernels (moebench report draws one figure per backend and
# precision, about 20 kernels each).
#   gnuplot -c plots/kernels.gp OUTBASE TITLE SUBTITLE KERNELS.dat
# Writes OUTBASE.png and OUTBASE.svg (900 x 760 px). Data formats: plots/README.md.
if (ARGC < 4) {
    print "usage: gnuplot -c kernels.gp OUTBASE TITLE SUBTITLE KERNELS.dat"
    exit status 2
}
set datafile missing "-"
stats ARG4 using 1 nooutput
rows = STATS_records
set title ARG2."\n".ARG3 noenhanced
set xlabel "achieved share of the machine's limit (%); bars end at 130 (cache-resident data beats the triad)\nblue: compute (GFLOP/s of peak GFLOP/s); orange: bandwidth (GB/s of triad GB/s)"
# bars end at cap %; the labels right of them need the room up to 190
cap = 130
bar(f) = 100 * f > cap ? cap : 100 * f
set xrange [0:190]
set xtics 0,20,cap
set yrange [rows-0.5:-0.5]
set ytics scale 0 noenhanced font ",9"
set grid xtics lc rgb "#dddddd"
set lmargin 34
set rmargin 2
set tmargin 4
set bmargin 5
unset key
set style fill solid 0.85 border -1
lab = rows > 30 ? ",7" : ",8"
do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 900,760 font "sans,10" noenhanced
    } else {
        set terminal svg size 900,760 font "sans,10" background rgb "white" noenhanced
    }
    set output ARG1.".".fmt
    plot ARG4 using (0):1:ytic(2) with points ps 0 notitle, \
         '' using (bar($5)/2):($1-0.2):(0):(bar($5)):($1-0.38):($1-0.02) with boxxyerror lc rgb "#3182bd" notitle, \
         '' using (bar($8)/2):($1+0.2):(0):(bar($8)):($1+0.02):($1+0.38) with boxxyerror lc rgb "#e6550d" notitle, \
         '' using (bar($5)):($1-0.2):(sprintf(" %.0f of %.0f GFLOP/s", $3, $4)) with labels left font lab notitle, \
         '' using (bar($8)):($1+0.2):(sprintf(" %.1f of %.0f GB/s%s", $6, $7, 100*$8 > cap ? sprintf(" (%.0f%%)", 100*$8) : "")) \
             with labels left font lab notitle
    unset output
}
