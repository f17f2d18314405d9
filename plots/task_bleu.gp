# Figure 6: BLEU per task (language pair), one bar group per task and one bar
# per variant, when the workload has several tasks.
#   gnuplot -c plots/task_bleu.gp OUTBASE TITLE SUBTITLE TASK_BLEU.dat NVARIANTS
# Writes OUTBASE.png and OUTBASE.svg (800 px wide). Data formats: plots/README.md.
if (ARGC < 5) {
    print "usage: gnuplot -c task_bleu.gp OUTBASE TITLE SUBTITLE TASK_BLEU.dat NVARIANTS"
    exit status 2
}
nv = int(ARG5)
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
        set terminal pngcairo size 800,500 font "sans,11" noenhanced
    } else {
        set terminal svg size 800,500 font "sans,11" background rgb "white" noenhanced
    }
    set output ARG1.".".fmt
    plot for [i=2:nv+1] ARG4 using i:xtic(1) title columnheader(i)
    unset output
}
