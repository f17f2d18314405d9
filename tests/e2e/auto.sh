#!/bin/sh
# End-to-end tests of --backend auto (backends/auto.c): `moebench backends`
# names the choice with its figures, measures once and then reads the cache
# (keyed by CPU, versions, threads, precision); a cache entry decides (edited
# by hand here, it is obeyed); translate with auto gives the chosen backend's
# output; a scenario with `backends = auto` records the chosen name in its
# rows; int8 picks the only backend that has it; no cache folder is no error.
# Which backend wins is not tested: that is a measurement on a shared CPU.
. "$(dirname "$0")/lib.sh"
M=$MOEBENCH
W=$WORK
cache="$XDG_CACHE_HOME/moebench/backend-choice"

out=$("$M" backends 2>&1)
n_fast=$(printf '%s\n' "$out" | grep -Ec '^(openblas|onednn) +fp32')
if [ "$n_fast" -eq 0 ]; then
    if "$M" backends | grep -Eq '^auto +- +ref'; then ok "auto falls back to ref in a build without fast backends"
    else not_ok "auto falls back to ref" "$("$M" backends)"; fi
    exit 0
fi

line=$(printf '%s\n' "$out" | grep '^auto ')
chosen=$(printf '%s\n' "$line" | awk '{ print $3 }')
if printf '%s\n' "$line" | grep -Eq '^auto +- +(openblas|onednn) \(a translation.s GEMM time, modelled from [0-9]+ shapes: .*[0-9.]+ ms.*\); measured now, cached in '; then
    ok "backends shows auto's choice ($chosen) with its figures, measured now"
else not_ok "backends shows auto's choice with its figures" "$out"; fi
if [ -f "$cache" ] && [ "$(wc -l <"$cache")" -eq 1 ] && grep -q "^cpu=.*|moebench=.*|threads=0|precision=fp32|" "$cache"; then
    ok "the choice is cached with its key"
else not_ok "the choice is cached with its key" "$(cat "$cache" 2>&1)"; fi
if "$M" backends | grep -Eq "^auto +- +$chosen .*; cached in "; then ok "a second call reads the cache"
else not_ok "a second call reads the cache" "$("$M" backends)"; fi
if [ "$(wc -l <"$cache")" -eq 1 ]; then ok "reading the cache adds no line"; else not_ok "reading the cache adds no line" "$(cat "$cache")"; fi

# the cache decides: name the other backend in it and auto follows
other=openblas; [ "$chosen" = openblas ] && other=onednn
if have_backend $other; then
    awk -F'\t' -v b=$other 'BEGIN { OFS = "\t" } { $2 = b; print }' "$cache" >"$W/c" && cp "$W/c" "$cache"
    if "$M" backends | grep -Eq "^auto +- +$other .*cached"; then ok "an edited cache entry is obeyed"
    else not_ok "an edited cache entry is obeyed" "$("$M" backends | grep auto)"; fi
    chosen=$other
else skip "an edited cache entry is obeyed" "only one fast backend compiled in"; fi

# the figures per shape: each shape's fastest backend, and what choosing per shape would save
if printf '%s\n' "$out" | grep -Eq '^ +per shape, fastest: prefill-ffn [a-z]+ \([0-9.]+ ms\), prefill-proj .*decode64-out [a-z]+ \([0-9.]+ ms\), decode1-ffn [a-z]+ \([0-9.]+ ms\); ' &&
   awk -F'\t' '{ n = split($3, b, " "); for (i = 1; i <= n; i++) if (split(b[i], f, "/") != 6) exit 1 }' "$cache"; then
    ok "backends shows the fastest backend per shape; the cache keeps the 5 shape figures"
else not_ok "backends shows the fastest backend per shape" "$out; $(cat "$cache")"; fi
if have_backend openblas && have_backend onednn; then
    cp "$cache" "$W/cache.keep"
    # shapes weighed 75, 225, 525, 195, 1300 (auto.c): openblas 1 ms each = 2320 ms; onednn 2, 2,
    # 0.5, 0.5, 1 ms = 2260 ms; each on its fastest: 75 + 225 + 262.5 + 97.5 + 1300 = 1960 ms
    awk -F'\t' 'BEGIN { OFS = "\t" } { $2 = "openblas"; $3 = "openblas=2.32/0.001/0.001/0.001/0.001/0.001 onednn=2.26/0.002/0.002/0.0005/0.0005/0.001"; print }' \
        "$W/cache.keep" >"$cache"
    if "$M" backends | grep -q "decode64-ffn onednn (0.500 ms), decode64-out onednn (0.500 ms), decode1-ffn openblas (1.000 ms); each shape on its fastest backend would take 15.5% less than all on openblas (1960.00 against 2320.00 ms, weighted)"; then
        ok "per shape: the winners and the saving are computed from the figures"
    else not_ok "per shape: the winners and the saving" "$("$M" backends | tail -2)"; fi
    awk -F'\t' 'BEGIN { OFS = "\t" } { $3 = "openblas=0.010 onednn=0.012"; print }' "$W/cache.keep" >"$cache"
    if "$M" backends | grep -Eq '^auto .*cached' && ! "$M" backends | grep -q 'per shape'; then
        ok "a cache line without shape figures (older moebench) still decides, and shows none"
    else not_ok "a cache line without shape figures" "$("$M" backends | tail -2)"; fi
    cp "$W/cache.keep" "$cache"
else skip "per shape: the winners and the saving" "needs openblas and onednn"; fi

# translate with auto = translate with the chosen backend
"$M" init --preset tiny --variant token-moe --seed 9 -o "$W/m.st" 2>/dev/null
printf '%s\n' '40 41 42 43 44 45' '100 200 300 400' '7 77 177 277 377' >"$W/src"
if "$M" translate "$W/m.st" --task en-de --ids --backend auto <"$W/src" >"$W/a.out" 2>"$W/err" &&
   "$M" translate "$W/m.st" --task en-de --ids --backend "$chosen" <"$W/src" >"$W/c.out" 2>>"$W/err" &&
   [ -s "$W/a.out" ] && cmp -s "$W/a.out" "$W/c.out"; then
    ok "translate --backend auto = --backend $chosen"
else not_ok "translate --backend auto = --backend $chosen" "$(cat "$W/err")"; fi

# auto is translate's default: no --backend = the chosen one, and --stats names it
if "$M" translate "$W/m.st" --task en-de --ids --stats <"$W/src" >"$W/d.out" 2>"$W/err" &&
   cmp -s "$W/d.out" "$W/c.out" && grep -q "output tokens/s ($chosen fp32, threads default" "$W/err"; then
    ok "translate's default backend is auto ($chosen)"
else not_ok "translate's default backend is auto" "$(tail -2 "$W/err")"; fi

# a scenario's rows say which backend ran, not "auto" (threads = 1: its own cache entry)
printf '[scenario]\nname = au\n[model]\npreset = tiny\nvariants = dense\n[workload]\nsentences = 3\n[measure]\nbackends = auto\nwarmup = 0\nrepetitions = 1\n' >"$W/au.ini"
if "$M" run "$W/au.ini" -o "$W/au.csv" 2>"$W/err" &&
   c1=$(grep 'threads=1|precision=fp32|' "$cache" | cut -f2) && [ -n "$c1" ] &&
   grep -q ",tiny,$c1,fp32,1," "$W/au.csv" && ! grep -q ',auto,' "$W/au.csv"; then
    ok "a scenario with backends = auto records the chosen backend ($c1)"
else not_ok "a scenario with backends = auto records the chosen backend" "$(tail -3 "$W/err"; cat "$cache"; head -2 "$W/au.csv" 2>/dev/null)"; fi

# ... and a scenario's default: one without a backends line records auto's choice
grep -v '^backends' "$W/au.ini" >"$W/au0.ini"
if "$M" run "$W/au0.ini" -o "$W/au0.csv" 2>"$W/err" && [ -n "${c1:-}" ] &&
   grep -q ",tiny,$c1,fp32,1," "$W/au0.csv" && ! grep -Eq ',(auto|ref),fp32,' "$W/au0.csv"; then
    ok "a scenario without backends runs auto's choice ($c1)"
else not_ok "a scenario without backends runs auto's choice" "$(tail -3 "$W/err"; head -2 "$W/au0.csv" 2>/dev/null)"; fi

# int8: only onednn has it, so auto measures that alone and picks it
if have_backend onednn && "$M" backends | grep -Eq '^onednn +[a-z0-9,]*int8'; then
    if "$M" translate "$W/m.st" --task en-de --ids --backend auto --precision int8 <"$W/src" >"$W/q.out" 2>"$W/err" &&
       grep -q 'precision=int8|' "$cache" && grep 'precision=int8|' "$cache" | cut -f2 | grep -qx onednn; then
        ok "auto with int8 picks onednn"
    else not_ok "auto with int8 picks onednn" "$(cat "$W/err" "$cache")"; fi
else skip "auto with int8 picks onednn" "no int8 on this build or CPU"; fi

# no place for a cache is no error
if env -u HOME -u XDG_CACHE_HOME "$M" backends 2>&1 | grep -Eq '^auto +- +(openblas|onednn) .*no cache file'; then
    ok "auto without HOME or XDG_CACHE_HOME measures and says it cannot cache"
else not_ok "auto without a cache folder" "$(env -u HOME -u XDG_CACHE_HOME "$M" backends 2>&1 | grep auto)"; fi

# kernels --backend auto: its rows name the backend it timed
if "$M" kernels --backend auto --preset tiny --min-time 0.01 --csv "$W/k.csv" >/dev/null 2>"$W/err" &&
   awk -F, 'NR > 1 { n++; if ($1 != "openblas" && $1 != "onednn") bad = 1 } END { exit bad || !n }' "$W/k.csv"; then
    ok "kernels --backend auto records the backend it chose"
else not_ok "kernels --backend auto records the backend it chose" "$(tail -2 "$W/err"; head -2 "$W/k.csv" 2>/dev/null)"; fi
