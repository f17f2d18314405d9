#!/bin/sh
# End-to-end tests of the fast backends: `moebench backends` lists ref,
# openblas and onednn with their library versions; `translate` gives the
# same token ids on openblas and onednn as on ref (tiny token-moe model,
# fp32, several thread counts); what a backend cannot do is a one-line
# error; `moebench kernels --preset tiny` runs and its CSV has the columns
# docs/backends.md documents.
. "$(dirname "$0")/lib.sh"
W=$WORK

out=$("$MOEBENCH" backends 2>&1)
for pat in '^ref +fp32 ' '^openblas +fp32 +OpenBLAS [0-9]+\.[0-9]+' '^onednn +fp32(,bf16)?(,int8,int8all)? +oneDNN [0-9]+\.[0-9]+\.[0-9]+'; do
    be=$(printf '%s' "$pat" | sed 's/^\^\([a-z]*\).*/\1/')
    if ! have_backend "$be"; then
        if printf '%s\n' "$out" | grep -Eq "^$be +- +not compiled in: built with WITH_"; then
            skip "backends lists /$pat/" "$be is not compiled into this build (the listing says so)"
        else not_ok "backends lists /$pat/" "$out"; fi
        continue
    fi
    if printf '%s\n' "$out" | grep -Eq "$pat"; then ok "backends lists /$pat/"
    else not_ok "backends lists /$pat/" "$out"; fi
done

# the same ids from every backend
check "init tiny token-moe" "$MOEBENCH" init --preset tiny --variant token-moe --seed 3 -o "$W/m.safetensors"
printf '%s\n' '40 41 42 43 44 45' '100 200 300 400' '7 77 177 277 377 477 500 501 502 503 504 505' \
    '60' '11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26' >"$W/src"
if "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --backend ref <"$W/src" >"$W/ref.out" 2>"$W/ref.err" &&
   [ "$(wc -l <"$W/ref.out")" -eq 5 ]; then
    ok "translate on ref"
else not_ok "translate on ref" "$(cat "$W/ref.err")"; fi
for b in "openblas" "onednn" "openblas --threads 1" "onednn --threads 1"; do
    have_backend "${b%% *}" || { skip "translate --backend $b gives ref's ids" "${b%% *} is not compiled in"; continue; }
    # shellcheck disable=SC2086 # $b holds a backend and its options
    if "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --backend $b <"$W/src" >"$W/got" 2>"$W/err" &&
       cmp -s "$W/got" "$W/ref.out"; then
        ok "translate --backend $b gives ref's ids"
    else not_ok "translate --backend $b gives ref's ids" "$(cat "$W/err"; diff "$W/ref.out" "$W/got" | head -5)"; fi
done
# onednn's fp32 decode-step GEMMs on each of its paths (backends/panel.c's AVX-512 and AVX2
# tiles, oneDNN's own matmul): ref's ids from each; a path the CPU lacks is refused in one line
panel_translate() { # VALUE: translate $W/src on onednn with MOEBENCH_PANEL=VALUE into $W/got
    MOEBENCH_PANEL=$1 "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --backend onednn <"$W/src" >"$W/got"
}
if have_backend onednn; then
    for p in off avx2 avx512; do
        case $p in avx2) need="avx2 fma" ;; avx512) need=avx512f ;; *) need= ;; esac
        lacks=
        for f in $need; do grep -qw "$f" /proc/cpuinfo 2>/dev/null || lacks=$f; done
        if [ -n "$lacks" ]; then
            check_fails "MOEBENCH_PANEL=$p is refused without $lacks" "MOEBENCH_PANEL=$p: this CPU \(or MOEBENCH_ISA\) does not allow those kernels" \
                panel_translate "$p"
        elif panel_translate "$p" 2>"$W/err" && cmp -s "$W/got" "$W/ref.out"; then
            ok "MOEBENCH_PANEL=$p: onednn gives ref's ids"
        else not_ok "MOEBENCH_PANEL=$p: onednn gives ref's ids" "$(cat "$W/err"; diff "$W/ref.out" "$W/got" | head -5)"; fi
    done
    check_fails "MOEBENCH_PANEL=bogus is refused" "MOEBENCH_PANEL=bogus: not a choice; use off" panel_translate bogus
    # oneDNN held to AVX2 (as on an AVX2-only CPU): its fp32 matmul is no AVX-512 kernel, so the
    # panels take the whole-sentence weights too; still ref's ids
    if ! grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
        skip "oneDNN held to AVX2: panels take every fp32 weight, ref's ids" "this CPU has no AVX2"
    elif DNNL_MAX_CPU_ISA=AVX2 "$MOEBENCH" backends 2>&1 | grep -q "panel kernels avx[0-9]* (every fp32 weight)" &&
        DNNL_MAX_CPU_ISA=AVX2 panel_translate avx2 2>"$W/err" && cmp -s "$W/got" "$W/ref.out"; then
        ok "oneDNN held to AVX2: panels take every fp32 weight, ref's ids"
    else not_ok "oneDNN held to AVX2: panels take every fp32 weight, ref's ids" \
        "$(DNNL_MAX_CPU_ISA=AVX2 "$MOEBENCH" backends 2>&1 | grep onednn; cat "$W/err")"; fi
fi
# MOEBENCH_ISA holds moebench's own kernels (element-wise ops, GEMV, panels) to an older
# instruction set: each path this CPU can run gives ref's ids on both fast backends, and says
# so in the version string; one it cannot run, or no name, is refused in one line
isa_translate() { # ISA BACKEND: translate $W/src with MOEBENCH_ISA=ISA into $W/got
    MOEBENCH_ISA=$1 "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --backend "$2" <"$W/src" >"$W/got"
}
for b in openblas onednn; do
    have_backend "$b" || { skip "MOEBENCH_ISA on $b" "$b is not compiled in"; continue; }
    for isa in sse2 avx2 avx512; do
        case $isa in avx2) need=avx2 ;; avx512) need="avx512f avx512dq avx512bw avx512vl" ;; *) need= ;; esac
        lacks=
        for f in $need; do grep -qw "$f" /proc/cpuinfo 2>/dev/null || lacks=$f; done
        if [ -n "$lacks" ]; then
            check_fails "MOEBENCH_ISA=$isa is refused on $b without $lacks" "MOEBENCH_ISA=$isa: this CPU cannot run it" \
                isa_translate "$isa" "$b"
        elif isa_translate "$isa" "$b" 2>"$W/err" && cmp -s "$W/got" "$W/ref.out" &&
            MOEBENCH_ISA=$isa "$MOEBENCH" backends 2>&1 | grep -Eq "^$b .*other ops $isa"; then
            ok "MOEBENCH_ISA=$isa: $b gives ref's ids and says so"
        else not_ok "MOEBENCH_ISA=$isa: $b gives ref's ids and says so" \
            "$(cat "$W/err"; diff "$W/ref.out" "$W/got" | head -5; MOEBENCH_ISA=$isa "$MOEBENCH" backends 2>&1 | grep "^$b")"; fi
    done
done
# int8's own steps (quantising each row, dequantising the sums) are the same arithmetic on every
# instruction set, and oneDNN's int8 sums are exact: the same ids whichever MOEBENCH_ISA runs
if have_backend onednn && "$MOEBENCH" backends 2>/dev/null | grep -Eq '^onednn +[a-z0-9,]*int8all'; then
    i8_ok=1 i8_first=
    for isa in sse2 avx2 avx512; do
        MOEBENCH_ISA=$isa "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --backend onednn \
            --precision int8all <"$W/src" >"$W/i8.$isa" 2>/dev/null || continue # a path this CPU lacks
        [ -s "$W/i8.$isa" ] || i8_ok=0
        if [ -z "$i8_first" ]; then i8_first=$isa; elif ! cmp -s "$W/i8.$i8_first" "$W/i8.$isa"; then i8_ok=0; fi
    done
    if [ "$i8_ok" = 1 ] && [ -n "$i8_first" ]; then ok "int8all: the same ids on every MOEBENCH_ISA this CPU runs"
    else not_ok "int8all: the same ids on every MOEBENCH_ISA this CPU runs" "$(ls -l "$W"/i8.* 2>&1)"; fi
else skip "int8all: the same ids on every MOEBENCH_ISA this CPU runs" "no int8 on this build or CPU"; fi
check_fails "MOEBENCH_ISA=avx9 is refused" "MOEBENCH_ISA=avx9: not an instruction set moebench has kernels for; use sse2" \
    isa_translate avx9 ref
# batches of 2 (the same ids as batch 32 since capacity is per sentence; ref runs them too)
"$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --batch 2 <"$W/src" >"$W/ref2.out" 2>/dev/null
for b in openblas onednn; do
    have_backend "$b" || { skip "translate --batch 2 --backend $b gives ref's ids" "$b is not compiled in"; continue; }
    if "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --batch 2 --backend $b <"$W/src" >"$W/got" \
           2>"$W/err" && [ -s "$W/ref2.out" ] && cmp -s "$W/got" "$W/ref2.out"; then
        ok "translate --batch 2 --backend $b gives ref's ids"
    else not_ok "translate --batch 2 --backend $b gives ref's ids" "$(cat "$W/err"; diff "$W/ref2.out" "$W/got" | head -5)"; fi
done
if ! have_backend onednn; then
    skip "translate --backend onednn --precision bf16 runs" "onednn is not compiled in"
elif "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --backend onednn --precision bf16 <"$W/src" \
       >"$W/bf16" 2>"$W/err" && [ "$(wc -l <"$W/bf16")" -eq 5 ]; then
    ok "translate --backend onednn --precision bf16 runs"
elif grep -q 'bf16' "$W/err" && [ "$(wc -l <"$W/err")" -eq 1 ]; then
    skip "translate --backend onednn --precision bf16 runs" "$(cat "$W/err")"
else not_ok "translate --backend onednn --precision bf16 runs" "$(cat "$W/err")"; fi

# one-line errors
if have_backend openblas; then
    check_fails "openblas refuses bf16 in one line" 'openblas: precision bf16 is not supported' \
        "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --backend openblas --precision bf16 <"$W/src"
    check_fails "kernels: openblas bf16 in one line" 'openblas: precision bf16' \
        "$MOEBENCH" kernels --backend openblas --precision bf16 --preset tiny
else
    skip "openblas refuses bf16 in one line" "openblas is not compiled in"
    skip "kernels: openblas bf16 in one line" "openblas is not compiled in"
fi
for b in openblas onednn; do
    have_backend "$b" && continue
    check_fails "a backend left out of the build says how to get it" "backend '$b' is not compiled into this build \(built with WITH_[A-Z]+=0; rebuild with make WITH_[A-Z]+=1\)" \
        "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --backend "$b" <"$W/src"
done
check_fails "ref refuses bf16 in one line" 'ref: precision bf16' \
    "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --backend ref --precision bf16 <"$W/src"
check_fails "unknown backend in one line" "unknown backend 'mkl'; compiled in: ref" \
    "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --backend mkl <"$W/src"
check_fails "unknown precision in one line" "unknown precision 'fp8'" \
    "$MOEBENCH" translate "$W/m.safetensors" --task en-de --ids --backend ref --precision fp8 <"$W/src"
check_fails "kernels: unknown backend in one line" "unknown backend 'mkl'" "$MOEBENCH" kernels --backend mkl
check_fails "kernels: unknown preset in one line" "unknown preset 'huge'" "$MOEBENCH" kernels --preset huge
check_fails "kernels: bad --peak-gflops in one line" "--peak-gflops" "$MOEBENCH" kernels --peak-gflops -3

# the kernels table and its CSV
HEADER='backend,precision,threads,preset,kind,name,m,n,k,flops,bytes,reps,median_s,value,unit,limit,ratio,bound,target,met,clock_ghz,peak_gflops,triad_gbytes_s,kernel,shape,gflops,bandwidth_gbs,peak_bandwidth_gbs,skipped,cpu_model,cores,git_rev,run_id,timestamp,backend_version'
for b in openblas onednn; do
    have_backend "$b" || { skip "kernels --backend $b --preset tiny" "$b is not compiled in"; continue; }
    if "$MOEBENCH" kernels --backend "$b" --preset tiny --min-time 0.01 --csv "$W/k.csv" >"$W/k.out" 2>"$W/k.err"; then
        ok "kernels --backend $b --preset tiny"
    else not_ok "kernels --backend $b --preset tiny" "$(tail -3 "$W/k.err")"; continue; fi
    # peak = cores x FLOP/cycle x the clock the FMA chains ran at, which is at most the scalar clock
    if awk '/^clock: / { clk = $2 } /^peak fp32: / { n = $3; f = $6; g = $9; for (i = 1; i <= NF; i++) if ($i == "=") p = $(i + 1) }
            END { exit !(clk > 0 && g > 0 && g <= clk + 0.005 && p > 0 && (n * f * g - p) ^ 2 <= (0.002 * p + 0.1) ^ 2) }' "$W/k.out"; then
        ok "kernels $b: peak fp32 = cores x FLOP/cycle x a clock no higher than the scalar one"
    else not_ok "kernels $b: peak fp32 arithmetic" "$(grep -E '^(clock|peak)' "$W/k.out")"; fi
    for pat in '^peak fp32: [0-9]+ cores? x [0-9]+ FLOP/cycle x [0-9.]+ GHz( \(the clock its FMA chains ran at\))? = [0-9.]+ GFLOP/s' \
               '^memory: triad [0-9.]+ GB/s' '^prefill\.attn_proj +1600 +64 +64 ' '^decode1\.out_proj +1 +512 +64 ' \
               '^decode64\.expert_in +16 +128 +64 '; do
        if grep -Eq "$pat" "$W/k.out"; then ok "kernels $b table has /$pat/"
        else not_ok "kernels $b table has /$pat/" "$(cat "$W/k.out")"; fi
    done
    if [ "$(head -n 1 "$W/k.csv")" = "$HEADER" ]; then ok "kernels $b CSV header"
    else not_ok "kernels $b CSV header" "$(head -n 1 "$W/k.csv")"; fi
    rows=$(grep -c "^$b,fp32,[0-9]*,tiny,kernel," "$W/k.csv")
    triad=$(grep -c "^$b,fp32,[0-9]*,tiny,triad,triad," "$W/k.csv")
    cols=$(sed 's/"[^"]*"//g' "$W/k.csv" | awk -F, '{print NF}' | sort -u | tr '\n' ' ') # quoted fields hold commas
    if [ "$rows" -eq 18 ] && [ "$triad" -eq 1 ] && [ "$cols" = "35 " ]; then ok "kernels $b CSV rows"
    else not_ok "kernels $b CSV rows" "kernel rows $rows, triad rows $triad, field counts $cols"; fi
    # every row names the machine and the backend's own description, as results rows do
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
    if [ -n "$cpu" ] && [ "$(grep -cF "$cpu" "$W/k.csv")" -eq "$(($(wc -l <"$W/k.csv") - 1))" ] &&
       sed -n 2p "$W/k.csv" | grep -Eq "(OpenBLAS|oneDNN) [0-9]"; then
        ok "kernels $b CSV rows carry the CPU model and the backend's version"
    else not_ok "kernels $b CSV rows carry the CPU model and the backend's version" "$(sed -n 2p "$W/k.csv")"; fi
    if [ ! -e "$W/k.csv.tmp" ]; then ok "kernels $b CSV renamed into place"
    else not_ok "kernels $b CSV renamed into place" "k.csv.tmp left behind"; fi
done
check "kernels --help" "$MOEBENCH" kernels --help
