# Figure 6: BLEU per task (language pair), one bar group per task and one bar
# per variant in its own colour (plots/variants.gp), when the workload has
# several tasks.
#   gnuplot -c plots/task_bleu.gp OUTBASE TITLE SUBTITLE TASK_BLEU.dat NVARIANTS ["VARIANT..."]
# VARIANT... names the columns after the first, in order.
# Writes OUTBASE.png and OUTBASE.svg (900 x 560 px). Data formats: plots/README.md.
if (ARGC < 5) {
    print "usage: gnuplot -c task_bleu.gp OUTBASE TITLE SUBTITLE TASK_BLEU.dat NVARIANTS"
    exit status 2
}
nv = int(ARG5)
set datafile missing "-"
here = ""
do for [k=strlen(ARG0):1:-1] { if (here eq "" && ARG0[k:k] eq "/") { here = ARG0[1:k] } }
load here."variants.gp"
vl = ARGC >= 6 ? ARG6 : ""
set title ARG2."\n".ARG3 noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xlabel "task (language pair)"
set ylabel "BLEU (sacreBLEU-compatible)"
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set grid ytics lc rgb "#dddddd"
set key top left horizontal noenhanced
set xtics noenhanced
do for [fmt in "png svg"] {
    if (fmt eq "png") {
        set terminal pngcairo size 900,560 font "sans,11" noenhanced
    } else {
        set terminal svg size 900,560 font "sans,11" background rgb "white" noenhanced
    }
    set output ARG1.".".fmt
    plot for [i=2:nv+1] ARG4 using i:xtic(1) title columnheader(i) lc rgb vcolor(word(vl, i-1))
    unset output
}
