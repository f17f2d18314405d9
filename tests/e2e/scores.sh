#!/bin/sh
# translate computes the vocabulary-wide log-softmax only with --scores (or
# beam search, which ranks by it): without it greedy takes the argmax of the
# logits, as `run` does. The ids must not change either way: here, on every
# compiled-in backend, for a tiny MoE and a small dense model, batches of 1
# and 8, the ids with --scores equal the ids without, and the scores are
# finite log-probabilities (<= 0).
. "$(dirname "$0")/lib.sh"
M=$MOEBENCH
W=$WORK
awk 'BEGIN { srand(3); for (i = 0; i < 12; i++) { n = 3 + int(rand() * 12); s = "";
     for (j = 0; j < n; j++) s = s (j ? " " : "") (4 + int(rand() * 500)); print s } }' >"$W/src"
"$M" init --preset tiny --variant token-moe --seed 13 -o "$W/tiny.st" 2>/dev/null
"$M" init --preset small --variant dense --seed 14 -o "$W/small.st" 2>/dev/null
for b in ref openblas onednn; do
    have_backend $b || { skip "$b: ids with and without --scores" "$b not compiled in"; continue; }
    for f in tiny small; do
        for n in 1 8; do
            name="$b $f batch $n: the same ids with and without --scores"
            if "$M" translate "$W/$f.st" --task en-de --ids --backend $b --batch $n <"$W/src" >"$W/plain" 2>"$W/err" &&
               "$M" translate "$W/$f.st" --task en-de --ids --scores --backend $b --batch $n <"$W/src" >"$W/sc" 2>>"$W/err" &&
               [ "$(wc -l <"$W/plain")" -eq 12 ] && cut -f1 "$W/sc" | cmp -s - "$W/plain" &&
               cut -f2 "$W/sc" | awk '!($1 <= 0) { bad = 1 } END { exit bad }'; then ok "$name"
            else not_ok "$name" "$(cat "$W/err"; head -2 "$W/plain" "$W/sc")"; fi
        done
    done
done
