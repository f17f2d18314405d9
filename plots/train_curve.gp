# Training curves from `moebench train --curve` CSVs: loss (label-smoothed,
# training batches) and greedy validation BLEU, each against steps and
# against CPU time; one line per CSV, labelled by its file name.
#   gnuplot -c plots/train_curve.gp OUTBASE TITLE CURVE.csv [CURVE.csv ...]
# Writes OUTBASE.png and OUTBASE.svg (900 x 760 px, as the report's other
# two-row figures). Columns: docs/training.md. `moebench report` runs it on
# copies of the curves in its figures folder (plots/README.md).
if (ARGC < 3) {
    print "usage: gnuplot -c train_curve.gp OUTBASE TITLE CURVE.csv [CURVE.csv ...]"
    exit status 2
}
set datafile separator ","
set key top right noenhanced
set grid lc rgb "#dddddd"
set linetype 1 lc rgb "#0072b2"
set linetype 2 lc rgb "#e69f00"
set linetype 3 lc rgb "#009e73"
set linetype 4 lc rgb "#d55e00"
set linetype 5 lc rgb "#cc79a7"
set linetype 6 lc rgb "#56b4e9"
files = ""
do for [i = 3:ARGC] { files = files . " " . value("ARG" . i) }
name_of(f) = system("basename " . f . " .csv")
# validation rows only (the other rows leave the validation columns empty)
vrows(f) = "< awk -F, 'NR > 1 && $13 != \"\"' " . f
# curves with no validation BLEU at all (--bleu-lines 0, no --valid): an
# empty panel that says so, not a gnuplot error
nv = 0
do for [f in files] { nv = nv + system("awk -F, 'NR > 1 && $13 != \"\"' " . f . " | wc -l") }
do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 900,760 font "sans,10" noenhanced
    } else {
        set terminal svg size 900,760 font "sans,10" noenhanced
    }
    set output ARG1 . "." . fmt
    set multiplot layout 2,2 title ARG2
    set xlabel "step"
    set ylabel "loss"
    plot for [f in files] f using 1:6 every ::1 with lines title name_of(f)
    set xlabel "CPU seconds"
    plot for [f in files] f using 3:6 every ::1 with lines title name_of(f)
    set key bottom right
    set xlabel "step"
    set ylabel "validation BLEU (greedy)"
    if (nv > 0) {
        plot for [f in files] vrows(f) using 1:13 with linespoints pt 7 ps 0.6 title name_of(f)
        set xlabel "CPU seconds"
        plot for [f in files] vrows(f) using 3:13 with linespoints pt 7 ps 0.6 title name_of(f)
    } else {
        set label 1 "no validation BLEU in these curves" at graph 0.5, 0.5 center
        plot [0:1] [0:1] -1 notitle
        set xlabel "CPU seconds"
        plot [0:1] [0:1] -1 notitle
        unset label 1
    }
    unset multiplot
    set key top right
    unset output
}
