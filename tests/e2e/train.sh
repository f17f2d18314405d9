# End-to-end checks of `moebench train` on a small token-id corpus made
# here (3 languages, aligned lines, ids of the tiny preset's vocabulary):
# a run lowers the loss; an interrupted run resumed from its checkpoint
# writes the same curve as an uninterrupted one (wall/CPU columns aside),
# at 1 and at 2 threads;
# SIGTERM checkpoints and exits 143; every variant trains; the files load
# in `info`; bad input is refused in one line; --bench reports its figures.
. tests/e2e/lib.sh
M=$MOEBENCH
D=$WORK/data
mkdir -p "$D"
# "translations": each target word is a function of the source word at the same place
awk -v seed=3 'BEGIN { srand(seed);
    for (i = 0; i < 120; i++) { n = 3 + int(rand() * 6); en = ""; de = ""; fr = "";
        for (j = 0; j < n; j++) { w = 20 + int(rand() * 150);
            en = en (j ? " " : "") w; de = de (j ? " " : "") (w + 150); fr = fr (j ? " " : "") (w + 300) }
        print en > "'"$D"'/train.en"; print de > "'"$D"'/train.de"; print fr > "'"$D"'/train.fr" } }'
head -20 "$D/train.en" >"$D/val.en"; head -20 "$D/train.de" >"$D/val.de"; head -20 "$D/train.fr" >"$D/val.fr"
T="--preset tiny --ids --train $D/train.{lang} --directions en-de,de-en,en-fr --batch-tokens 400 --warmup 10 --lr 3e-3 --checkpoint-minutes 60"

check "train --help" $M train --help

# an uninterrupted run
if $M train $T --steps 40 --valid "$D/val.{lang}" --valid-every 20 -o "$WORK/a.safetensors" --curve "$WORK/a.csv" 2>"$WORK/a.err"; then
    ok "train 40 steps of tiny dense"
else not_ok "train 40 steps of tiny dense" "$(tail -3 "$WORK/a.err")"; fi
first=$(awk -F, 'NR == 2 { print $6 }' "$WORK/a.csv"); last=$(awk -F, 'NR == 41 { print $6 }' "$WORK/a.csv")
if awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < f - 1.0) }'; then ok "the loss falls by over 1 nat ($first -> $last)"
else not_ok "the loss falls by over 1 nat" "first $first, last $last"; fi
for f in a.safetensors a.ckpt.safetensors a.best.safetensors; do
    if [ -s "$WORK/$f" ]; then ok "$f written"; else not_ok "$f written"; fi
done
if [ "$(awk -F, 'NR > 1 && $11 != "" && $13 != ""' "$WORK/a.csv" | wc -l)" -eq 2 ]; then ok "validation loss and BLEU at steps 20 and 40"
else not_ok "validation at steps 20 and 40" "$(cut -d, -f1,11 "$WORK/a.csv" | head -5)"; fi
check "the trained model loads in info" $M info "$WORK/a.safetensors"
if grep -q "^step 40/40  loss" "$WORK/a.err"; then ok "progress on stderr"; else not_ok "progress on stderr" "$(tail -2 "$WORK/a.err")"; fi

# --decay none: the peak learning rate after warm-up, kept by a resumed run
$M train $T --steps 24 --warmup 5 --decay none -o "$WORK/dn.safetensors" --curve "$WORK/dn.csv" --stop-after 12 2>"$WORK/dn1.err"
$M train --resume "$WORK/dn.ckpt.safetensors" --ids --train "$D/train.{lang}" --steps 24 --checkpoint-minutes 60 \
    -o "$WORK/dn.safetensors" --curve "$WORK/dn.csv" 2>"$WORK/dn2.err"
if [ "$(awk -F, 'NR > 6 { print $5 }' "$WORK/dn.csv" | sort -u)" = "0.00300000003" ] &&
    [ "$(awk -F, 'END { print $1 }' "$WORK/dn.csv")" = 24 ]; then ok "--decay none holds the peak rate after warm-up, across a resume"
else not_ok "--decay none holds the peak rate after warm-up, across a resume" "$(cut -d, -f1,5 "$WORK/dn.csv" | sed -n '5,9p;20,25p'; tail -2 "$WORK/dn2.err")"; fi
# --sampling: a resume past the first chunk of 64 batches (shuffle replays
# the chunks before to know each direction's place in its pass) continues
# the same stream, in both modes; the modes draw different streams
for smp in shuffle replace; do
    $M train $T --batch-tokens 100 --sampling $smp --steps 75 -o "$WORK/s$smp.safetensors" --curve "$WORK/s$smp.csv" 2>"$WORK/s$smp.err"
    $M train $T --batch-tokens 100 --sampling $smp --steps 75 -o "$WORK/r$smp.safetensors" --curve "$WORK/r$smp.csv" --stop-after 70 2>"$WORK/r$smp.1.err"
    $M train --resume "$WORK/r$smp.ckpt.safetensors" --ids --train "$D/train.{lang}" -o "$WORK/r$smp.safetensors" \
        --curve "$WORK/r$smp.csv" 2>"$WORK/r$smp.2.err"
    if [ "$(awk -F, 'END { print $1 }' "$WORK/s$smp.csv")" = 75 ] && cut -d, -f1,2,5-13 "$WORK/s$smp.csv" >"$WORK/s$smp.cut" &&
        cut -d, -f1,2,5-13 "$WORK/r$smp.csv" >"$WORK/r$smp.cut" && cmp -s "$WORK/s$smp.cut" "$WORK/r$smp.cut" &&
        cmp -s "$WORK/s$smp.safetensors" "$WORK/r$smp.safetensors"; then
        ok "--sampling $smp: resumed at step 70 (second chunk; --steps from the checkpoint) = uninterrupted"
    else not_ok "--sampling $smp: resumed at step 70 (second chunk; --steps from the checkpoint) = uninterrupted" \
        "$(diff "$WORK/s$smp.cut" "$WORK/r$smp.cut" | head -4; tail -2 "$WORK/r$smp.2.err")"; fi
done
if ! cmp -s "$WORK/sshuffle.cut" "$WORK/sreplace.cut"; then ok "--sampling shuffle and replace draw different batches"
else not_ok "--sampling shuffle and replace draw different batches"; fi
if $M train $T --steps 2 --sampling sometimes -o "$WORK/sx.safetensors" 2>"$WORK/sx.err"; then not_ok "--sampling sometimes is refused"
elif [ "$(wc -l <"$WORK/sx.err")" -eq 1 ] && grep -q "not 'shuffle' or 'replace'" "$WORK/sx.err"; then ok "--sampling sometimes is refused in one line"
else not_ok "--sampling sometimes is refused in one line" "$(cat "$WORK/sx.err")"; fi
if $M train $T --steps 2 --decay cosine -o "$WORK/dx.safetensors" 2>"$WORK/dx.err"; then not_ok "--decay cosine is refused"
elif [ "$(wc -l <"$WORK/dx.err")" -eq 1 ] && grep -q "not 'inv-sqrt' or 'none'" "$WORK/dx.err"; then ok "--decay cosine is refused in one line"
else not_ok "--decay cosine is refused in one line" "$(cat "$WORK/dx.err")"; fi

# interrupted after 15 steps, resumed: the same curve
$M train $T --steps 40 --valid "$D/val.{lang}" --valid-every 20 -o "$WORK/b.safetensors" --curve "$WORK/b.csv" --stop-after 15 2>"$WORK/b1.err"
$M train --resume "$WORK/b.ckpt.safetensors" --ids --train "$D/train.{lang}" --valid "$D/val.{lang}" --valid-every 20 \
    --steps 40 --checkpoint-minutes 60 -o "$WORK/b.safetensors" --curve "$WORK/b.csv" 2>"$WORK/b2.err"
if cut -d, -f1,2,5-13 "$WORK/a.csv" >"$WORK/a.cut" && cut -d, -f1,2,5-13 "$WORK/b.csv" >"$WORK/b.cut" &&
    cmp -s "$WORK/a.cut" "$WORK/b.cut"; then ok "resume gives the same curve as an uninterrupted run"
else not_ok "resume gives the same curve as an uninterrupted run" "$(diff "$WORK/a.cut" "$WORK/b.cut" | head -6; tail -2 "$WORK/b2.err")"; fi
if cmp -s "$WORK/a.safetensors" "$WORK/b.safetensors"; then ok "and the same final weights, bit for bit"
else not_ok "and the same final weights, bit for bit"; fi

# two threads (the trainer's OpenMP loops and the GEMMs): resumed = uninterrupted at the same thread count
$M train $T --threads 2 --steps 20 -o "$WORK/e.safetensors" --curve "$WORK/e.csv" 2>"$WORK/e.err"
$M train $T --threads 2 --steps 20 -o "$WORK/f.safetensors" --curve "$WORK/f.csv" --stop-after 8 2>"$WORK/f1.err"
$M train --resume "$WORK/f.ckpt.safetensors" --ids --train "$D/train.{lang}" --threads 2 --steps 20 \
    --checkpoint-minutes 60 -o "$WORK/f.safetensors" --curve "$WORK/f.csv" 2>"$WORK/f2.err"
if [ "$(wc -l <"$WORK/e.csv")" -eq 21 ] && cut -d, -f1,2,5-13 "$WORK/e.csv" >"$WORK/e.cut" &&
    cut -d, -f1,2,5-13 "$WORK/f.csv" >"$WORK/f.cut" && cmp -s "$WORK/e.cut" "$WORK/f.cut" &&
    cmp -s "$WORK/e.safetensors" "$WORK/f.safetensors"; then
    ok "--threads 2: resume gives the same curve and weights as an uninterrupted run"
else not_ok "--threads 2: resume gives the same curve and weights as an uninterrupted run" \
    "$(diff "$WORK/e.cut" "$WORK/f.cut" | head -6; tail -2 "$WORK/e.err" "$WORK/f2.err")"; fi

# SIGTERM: a checkpoint, exit status 143
$M train $T --steps 100000 -o "$WORK/c.safetensors" --curve "$WORK/c.csv" 2>"$WORK/c.err" &
pid=$!
i=0; while [ "$(cat "$WORK/c.csv" 2>/dev/null | wc -l)" -lt 3 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $pid; wait $pid; rc=$?
if [ $rc -eq 143 ] && [ -s "$WORK/c.ckpt.safetensors" ] && grep -q "continue with --resume" "$WORK/c.err"; then
    ok "SIGTERM writes a checkpoint and exits 143"
else not_ok "SIGTERM writes a checkpoint and exits 143" "status $rc; $(tail -2 "$WORK/c.err")"; fi

for v in token-moe sentence-moe task-moe; do
    if $M train $T --variant $v --steps 6 -o "$WORK/$v.safetensors" --curve "$WORK/$v.csv" 2>"$WORK/$v.err" &&
        awk -F, 'NR > 1 && $8 > 0 { n++ } END { exit !(n == 6) }' "$WORK/$v.csv"; then
        ok "train $v (aux loss logged)"
    else not_ok "train $v (aux loss logged)" "$(tail -3 "$WORK/$v.err")"; fi
done
$M train $T --variant token-moe --steps 3 --train-capacity-factor 0.01 --experts 2 -o "$WORK/cap.safetensors" \
    --curve "$WORK/cap.csv" 2>/dev/null
if awk -F, 'NR > 1 && $9 > 0 { n++ } END { exit !(n == 3) }' "$WORK/cap.csv"; then ok "a small capacity drops a share, logged"
else not_ok "a small capacity drops a share, logged" "$(cut -d, -f1,9 "$WORK/cap.csv")"; fi

# bad input
check_fails "no data" "train: no training data" $M train --preset tiny -o "$WORK/x.safetensors"
check_fails "a missing file" "train.xx.*cannot open" $M train $T --directions en-xx -o "$WORK/x.safetensors"
printf '5 6 oops\n' >"$D/bad.en"; printf '7\n' >"$D/bad.de"
check_fails "a bad token id names file:line" "bad.en:1: 'oops' is not a token id" \
    $M train --preset tiny --ids --train "$D/bad.{lang}" --directions en-de -o "$WORK/x.safetensors"
printf '5 6\n7\n' >"$D/bad.en"
check_fails "misaligned files" "bad.en: 2 lines, but .*bad.de has 1" \
    $M train --preset tiny --ids --train "$D/bad.{lang}" --directions de-en -o "$WORK/x.safetensors"
check_fails "resume from a model file is refused" "no optimizer state" \
    $M train --resume "$WORK/a.safetensors" --ids --train "$D/train.{lang}" -o "$WORK/x.safetensors"
if env MOEBENCH_MEM_LIMIT=3M $M train $T --steps 2 --batch-tokens 4000 -o "$WORK/x.safetensors" --curve "$WORK/x.csv" \
    2>"$WORK/mem.err"; then not_ok "a batch over the memory limit is refused before allocating" "it ran"
elif tail -1 "$WORK/mem.err" | grep -q "training activations .* needs .* lower the token budget"; then
    ok "a batch over the memory limit is refused before allocating"
else not_ok "a batch over the memory limit is refused before allocating" "$(cat "$WORK/mem.err")"; fi
if $M train --bench --preset tiny --batch-tokens 512 --bench-steps 2 >"$WORK/bench.out" 2>&1 &&
    grep -q "tokens per CPU-second" "$WORK/bench.out" && grep -q "backend GEMM rate" "$WORK/bench.out"; then
    ok "train --bench reports tokens per CPU-second and the GEMM rate"
else not_ok "train --bench" "$(cat "$WORK/bench.out")"; fi

# what training learns, inference uses: a mapping learnt by tiny (target word = source word + 150)
# is decoded by the engine's greedy search with BLEU (over ids) above 40 after 300 steps (67 here)
awk -v seed=4 'BEGIN { srand(seed); for (i = 0; i < 500; i++) { n = 3 + int(rand() * 6); en = ""; de = "";
    for (j = 0; j < n; j++) { w = 20 + int(rand() * 150); en = en (j ? " " : "") w; de = de (j ? " " : "") (w + 150) }
    print en > "'"$D"'/map.en"; print de > "'"$D"'/map.de" } }'
$M train --preset tiny --ids --train "$D/map.{lang}" --valid "$D/map.{lang}" --valid-lines 50 --bleu-lines 50 \
    --directions en-de,de-en --batch-tokens 600 --warmup 20 --lr 3e-3 --steps 300 --valid-every 300 --dropout 0 \
    -o "$WORK/map.safetensors" --curve "$WORK/map.csv" 2>"$WORK/map.err"
bleu=$(awk -F, 'NR > 1 && $13 != "" { b = $13 } END { print b + 0 }' "$WORK/map.csv")
if awk -v b="$bleu" 'BEGIN { exit !(b > 40) }'; then ok "a learnt mapping decodes with greedy BLEU $bleu > 40"
else not_ok "a learnt mapping decodes with greedy BLEU > 40" "BLEU $bleu; $(tail -2 "$WORK/map.err")"; fi
if command -v gnuplot >/dev/null 2>&1; then
    if gnuplot -c plots/train_curve.gp "$WORK/curve" "e2e" "$WORK/a.csv" "$WORK/map.csv" 2>"$WORK/gp.err" &&
        [ -s "$WORK/curve.png" ] && [ -s "$WORK/curve.svg" ]; then ok "plots/train_curve.gp draws the curves"
    else not_ok "plots/train_curve.gp draws the curves" "$(cat "$WORK/gp.err")"; fi
else skip "plots/train_curve.gp draws the curves" "gnuplot is not installed"; fi

# text data through a vocabulary: the model written carries that vocabulary and translates text
V=$WORK/vt
mkdir -p "$V"
awk 'BEGIN { for (i = 1; i <= 200; i++) print "the cat sat on the mat number " i }' >"$V/t.en"
awk 'BEGIN { for (i = 1; i <= 200; i++) print "die katze sass auf der matte nummer " i }' >"$V/t.de"
if $M vocab train --langs de,en --data "$V/t.en" "$V/t.de" --size 300 -o "$V/v.model" 2>"$V/err" &&
   $M train --preset tiny --variant dense --vocab-file "$V/v.model" --vocab 300 --train "$V/t.{lang}" --tasks en-de \
       --directions en-de --steps 3 -o "$V/m.safetensors" --curve "$V/c.csv" 2>>"$V/err" &&
   $M info "$V/m.safetensors" 2>>"$V/err" | grep -q "^vocabulary SentencePiece unigram, 300 pieces" &&
   echo "the cat sat" | $M translate "$V/m.safetensors" --task en-de >/dev/null 2>>"$V/err"; then
    ok "a model trained on text carries its vocabulary and translates text"
else not_ok "a model trained on text carries its vocabulary and translates text" "$(tail -3 "$V/err")"; fi
