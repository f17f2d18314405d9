# End-to-end checks of `moebench distill` on a synthetic token-id corpus (a
# target word is the source word + 150): a tiny token-moe teacher learns it,
# then distil: the teacher's cached translations are reused by a second run
# (file untouched) and regenerated for another teacher; they equal what
# `moebench translate` prints with the same beam (an independent path); the
# student's loss on the teacher's outputs falls; --resume gives the same
# curve; `run` names the teacher in `weights` and the report does not call the
# student untrained; bad input is refused in one line with exit 1 or 2.
. tests/e2e/lib.sh
M=$MOEBENCH
D=$WORK/data
mkdir -p "$D"
awk -v seed=5 'BEGIN { srand(seed); for (i = 0; i < 120; i++) { n = 3 + int(rand() * 6); en = ""; de = "";
    for (j = 0; j < n; j++) { w = 20 + int(rand() * 150); en = en (j ? " " : "") w; de = de (j ? " " : "") (w + 150) }
    print en > "'"$D"'/train.en"; print de > "'"$D"'/train.de" } }'
head -20 "$D/train.en" >"$D/val.en"; head -20 "$D/train.de" >"$D/val.de"

check "distill --help" $M distill --help
if $M train --preset tiny --variant token-moe --ids --train "$D/train.{lang}" --directions en-de,de-en \
    --batch-tokens 600 --warmup 20 --lr 3e-3 --steps 120 --dropout 0 --checkpoint-minutes 60 \
    -o "$WORK/teacher.safetensors" --curve "$WORK/teacher.csv" 2>"$WORK/teacher.err"; then
    ok "a tiny token-moe teacher trains"
else not_ok "a tiny token-moe teacher trains" "$(tail -3 "$WORK/teacher.err")"; fi

S="--ids --train $D/train.{lang} --valid $D/val.{lang} --valid-every 10 --bleu-lines 10 --backend ref
   --batch-tokens 400 --warmup 5 --lr 3e-3 --checkpoint-minutes 60 --beam 4 --cache $WORK/cache"
if $M distill --teacher "$WORK/teacher.safetensors" $S --steps 30 -o "$WORK/s.safetensors" --curve "$WORK/s.csv" \
    2>"$WORK/s.err"; then ok "distill 30 steps"
else not_ok "distill 30 steps" "$(tail -3 "$WORK/s.err")"; fi
for d in en-de de-en; do
    if [ "$(($(wc -l <"$WORK/cache/$d.ids") - 1))" -eq 120 ] && head -1 "$WORK/cache/$d.ids" | grep -q "^#moebench-distill-cache"; then
        ok "cache $d.ids: a key and 120 lines"
    else not_ok "cache $d.ids: a key and 120 lines" "$(head -2 "$WORK/cache/$d.ids")"; fi
done
if grep -q "translated 120 lines with beam 4" "$WORK/s.err" && grep -q "ETA" "$WORK/s.err"; then
    ok "progress with ETA on stderr"
else not_ok "progress with ETA on stderr" "$(grep distill "$WORK/s.err" | head -4)"; fi

# (b) the cache holds what translate prints for the same sources and beam
$M translate "$WORK/teacher.safetensors" --task en-de --ids --beam 4 --backend ref <"$D/train.en" >"$WORK/tr.de" 2>"$WORK/tr.err"
tail -n +2 "$WORK/cache/en-de.ids" >"$WORK/cache.de"
if [ -s "$WORK/tr.de" ] && cmp -s "$WORK/tr.de" "$WORK/cache.de"; then ok "cached en-de = moebench translate --beam 4"
else not_ok "cached en-de = moebench translate --beam 4" "$(diff "$WORK/tr.de" "$WORK/cache.de" | head -4)"; fi
$M translate "$WORK/teacher.safetensors" --task de-en --ids --beam 4 --backend ref <"$D/train.de" >"$WORK/tr.en" 2>/dev/null
if tail -n +2 "$WORK/cache/de-en.ids" | cmp -s - "$WORK/tr.en"; then ok "cached de-en = moebench translate --beam 4"
else not_ok "cached de-en = moebench translate --beam 4"; fi
# the teacher learnt the mapping, so its outputs are mostly source + 150
hits=$(paste -d'|' "$D/train.en" "$WORK/cache.de" | awk -F'|' '{ n = split($1, a, " "); m = split($2, b, " ");
    if (n == m) { ok = 1; for (i = 1; i <= n; i++) if (b[i] != a[i] + 150) ok = 0; h += ok } } END { print h + 0 }')
if [ "$hits" -gt 30 ]; then ok "the teacher's outputs follow the mapping ($hits/120 exact)"
else not_ok "the teacher's outputs follow the mapping" "$hits/120 exact"; fi

# (d) the student's loss on the teacher's outputs falls
first=$(awk -F, 'NR == 2 { print $6 }' "$WORK/s.csv"); last=$(awk -F, 'NR == 31 { print $6 }' "$WORK/s.csv")
if awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < f - 0.3) }'; then ok "the student's loss falls ($first -> $last)"
else not_ok "the student's loss falls" "first $first, last $last"; fi
if grep -q "started from .*teacher.safetensors: .* copied .* the mean of their experts" "$WORK/s.err"; then
    ok "the student starts from the teacher (stderr says what was copied and averaged)"
else not_ok "the student starts from the teacher" "$(grep started "$WORK/s.err")"; fi
if head -c 4000 "$WORK/s.safetensors" | grep -aq '"distilled_from":"teacher.safetensors (crc32 [0-9a-f]*)"' &&
    head -c 4000 "$WORK/s.safetensors" | grep -aq '"variant":"student"'; then
    ok "the student file: variant student, distilled_from its teacher"
else not_ok "the student file: variant student, distilled_from its teacher"; fi
if [ "$(awk -F, 'NR > 1 && $11 != ""' "$WORK/s.csv" | wc -l)" -eq 3 ]; then ok "validation on the real references every 10 steps"
else not_ok "validation every 10 steps"; fi

# (a) a second run reuses the cache, untouched; another teacher regenerates it
before=$(stat -c %y "$WORK/cache/en-de.ids")
cp "$WORK/cache/en-de.ids" "$WORK/en-de.before"
if $M distill --teacher "$WORK/teacher.safetensors" $S --steps 2 -o "$WORK/s2.safetensors" --curve "$WORK/s2.csv" \
    2>"$WORK/s2.err" && grep -q "en-de: reusing the teacher's translations" "$WORK/s2.err" &&
    grep -q "de-en: reusing" "$WORK/s2.err" && ! grep -q "teacher translating" "$WORK/s2.err" &&
    [ "$(stat -c %y "$WORK/cache/en-de.ids")" = "$before" ]; then
    ok "a second run reuses the cache (file untouched)"
else not_ok "a second run reuses the cache" "$(grep distill "$WORK/s2.err" | head -3)"; fi
$M init --preset tiny --variant token-moe --tasks en-de,de-en --seed 7 -o "$WORK/teacher.safetensors" 2>/dev/null
if $M distill --teacher "$WORK/teacher.safetensors" $S --steps 2 -o "$WORK/s3.safetensors" --curve "$WORK/s3.csv" \
    2>"$WORK/s3.err" && grep -q "en-de: translated 120 lines .*changed" "$WORK/s3.err" &&
    ! cmp -s "$WORK/cache/en-de.ids" "$WORK/en-de.before"; then
    ok "another teacher at the same path regenerates the cache"
else not_ok "another teacher regenerates the cache" "$(grep distill "$WORK/s3.err" | head -3)"; fi

# resume: the same curve as without the stop
$M distill --teacher "$WORK/teacher.safetensors" $S --steps 12 -o "$WORK/r.safetensors" --curve "$WORK/r.csv" --stop-after 5 2>/dev/null
$M distill --teacher "$WORK/teacher.safetensors" $S --steps 12 -o "$WORK/r.safetensors" --curve "$WORK/r.csv" \
    --resume "$WORK/r.ckpt.safetensors" 2>"$WORK/r.err"
$M distill --teacher "$WORK/teacher.safetensors" $S --steps 12 -o "$WORK/u.safetensors" --curve "$WORK/u.csv" 2>/dev/null
if [ -s "$WORK/r.csv" ] && cut -d, -f1,2,5-13 "$WORK/r.csv" >"$WORK/r.cut" && cut -d, -f1,2,5-13 "$WORK/u.csv" >"$WORK/u.cut" &&
    cmp -s "$WORK/r.cut" "$WORK/u.cut" && cmp -s "$WORK/r.safetensors" "$WORK/u.safetensors"; then
    ok "distill --resume: the same curve and weights as an uninterrupted run"
else not_ok "distill --resume: the same curve and weights" "$(diff "$WORK/r.cut" "$WORK/u.cut" | head -4; tail -2 "$WORK/r.err")"; fi

# run: the weights column names the teacher; the report does not call the student untrained
printf '[model]\nvariants = dense, student\nfiles = student:%s\n[workload]\ntasks = en-de\nsentences = 3\n[measure]\nbackends = ref\nwarmup = 0\nrepetitions = 1\n' \
    "$WORK/s.safetensors" >"$WORK/st.ini"
if $M run "$WORK/st.ini" -o "$WORK/st.csv" 2>"$WORK/st.err" &&
    grep -q "file:s.safetensors; distilled from teacher.safetensors (crc32 " "$WORK/st.csv"; then
    ok "run: the weights column names the teacher"
else not_ok "run: the weights column names the teacher" "$(tail -2 "$WORK/st.err")"; fi
if $M report "$WORK/st.csv" -o "$WORK/st.md" --figures "$WORK/fig" >/dev/null 2>&1 && grep -q "student" "$WORK/st.md" &&
    ! grep -q "untrained (= dense)" "$WORK/st.md"; then
    ok "report: a distilled student is not labelled untrained"
else not_ok "report: a distilled student is not labelled untrained" "$(grep -n student "$WORK/st.md" | head -3)"; fi

# train --init-from: the same start for any run
if $M train --preset tiny --ids --train "$D/train.{lang}" --directions en-de,de-en --steps 2 --init-from "$WORK/s.safetensors" \
    -o "$WORK/i.safetensors" --curve "$WORK/i.csv" 2>"$WORK/i.err" && grep -q "started from .*s.safetensors" "$WORK/i.err"; then
    ok "train --init-from"
else not_ok "train --init-from" "$(tail -2 "$WORK/i.err")"; fi

# text through a vocabulary: the teacher must carry that very vocabulary; the student carries it too
V=$WORK/vt
mkdir -p "$V"
awk 'BEGIN { for (i = 1; i <= 200; i++) print "the cat sat on the mat number " i }' >"$V/t.en"
awk 'BEGIN { for (i = 1; i <= 200; i++) print "die katze sass auf der matte nummer " i }' >"$V/t.de"
$M vocab train --langs de,en --data "$V/t.en" "$V/t.de" --size 300 -o "$V/v.model" 2>"$V/err"
$M vocab train --langs de,en --data "$V/t.en" "$V/t.de" --size 320 -o "$V/v2.model" 2>>"$V/err"
$M train --preset tiny --variant token-moe --vocab-file "$V/v.model" --train "$V/t.{lang}" --directions en-de,de-en \
    --steps 3 -o "$V/teacher.safetensors" --curve "$V/tc.csv" 2>>"$V/err"
if $M distill --teacher "$V/teacher.safetensors" --vocab-file "$V/v.model" --train "$V/t.{lang}" --max-lines 40 --steps 2 \
    --beam 2 -o "$V/s.safetensors" --curve "$V/s.csv" 2>>"$V/err" && [ "$(wc -l <"$V/s.distill/en-de.ids")" -eq 41 ] &&
    $M info "$V/s.safetensors" 2>>"$V/err" | grep -q "^vocabulary SentencePiece unigram, 300 pieces" &&
    echo "the cat sat" | $M translate "$V/s.safetensors" --task en-de >/dev/null 2>>"$V/err"; then
    ok "text: distill with the teacher's vocabulary (--max-lines 40); the student carries it and translates text"
else not_ok "text: distill with the teacher's vocabulary" "$(tail -3 "$V/err")"; fi
expect_v() {
    "$@" >/dev/null 2>"$WORK/e.err"; rc=$?
    [ $rc -eq 1 ] && [ "$(wc -l <"$WORK/e.err")" -eq 1 ] && grep -q "is not the vocabulary .* carries" "$WORK/e.err"
}
if expect_v $M distill --teacher "$V/teacher.safetensors" --vocab-file "$V/v2.model" --train "$V/t.{lang}" -o "$V/x.safetensors"; then
    ok "text: another vocabulary than the teacher's is refused (exit 1)"
else not_ok "text: another vocabulary than the teacher's is refused" "$(cat "$WORK/e.err")"; fi

# (e) bad input: one line, exit 1 (files) or 2 (usage)
expect() { # NAME STATUS PATTERN CMD...
    name=$1; want=$2; pat=$3; shift 3
    "$@" >/dev/null 2>"$WORK/e.err"; rc=$?
    if [ $rc -eq "$want" ] && [ "$(wc -l <"$WORK/e.err")" -eq 1 ] && grep -Eq -- "$pat" "$WORK/e.err"; then ok "$name"
    else not_ok "$name" "status $rc: $(cat "$WORK/e.err")"; fi
}
expect "a missing teacher: exit 1" 1 "nothere.safetensors" \
    $M distill --teacher "$WORK/nothere.safetensors" $S -o "$WORK/x.safetensors"
expect "no teacher: exit 2" 2 "distill: no teacher" $M distill $S -o "$WORK/x.safetensors"
expect "a teacher without a vocabulary for text: exit 1" 1 "carries no vocabulary" \
    $M distill --teacher "$WORK/teacher.safetensors" --vocab-file "$WORK/v.model" --train "$D/train.{lang}" -o "$WORK/x.safetensors"
expect "a student of another d_model: exit 2" 2 "d_model is 32 but the teacher's is 64" \
    $M distill --teacher "$WORK/teacher.safetensors" $S --d-model 32 -o "$WORK/x.safetensors"
expect "a student deeper than the teacher: exit 2" 2 "at most the teacher's layers" \
    $M distill --teacher "$WORK/teacher.safetensors" $S --layers 3 -o "$WORK/x.safetensors"
expect "a direction the teacher lacks: exit 2" 2 "does not translate en-fr" \
    $M distill --teacher "$WORK/teacher.safetensors" $S --directions en-de,en-fr -o "$WORK/x.safetensors"
expect "an option distill does not have: exit 2" 2 "variant" \
    $M distill --teacher "$WORK/teacher.safetensors" $S --variant dense -o "$WORK/x.safetensors"
if [ ! -e "$WORK/x.safetensors" ]; then ok "no output file after a refusal"; else not_ok "no output file after a refusal"; fi
