#!/bin/sh
# The Makefile's promises: `make demo` writes only files git ignores (the
# committed references stay untouched), `make report` reads every committed
# results CSV (the paper run included), `make install` lays out what an
# installed moebench finds at run time (gnuplot scripts in share/moebench).
. tests/e2e/lib.sh
M=$MOEBENCH

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    for f in results/demo/demo.csv results/demo/kernels-onednn-bf16.csv REPORT-demo.md plots/figures/demo/x.png; do
        if git check-ignore -q "$f"; then ok "git ignores the demo's $f"
        else not_ok "git ignores the demo's $f"; fi
    done
    if make -s -n report 2>/dev/null | grep -q "results/paper-wmt32e.csv" &&
        make -s -n report 2>/dev/null | grep -q "results/demo.csv"; then
        ok "make report reads the committed paper-wmt32e.csv and demo.csv"
    else not_ok "make report reads the committed CSVs" "$(make -s -n report 2>&1 | tail -2)"; fi
    # every output option of the demo's commands points into the demo's own places
    bad=$(make -s -n demo 2>/dev/null | grep -E "moebench (run|kernels|report) " |
        grep -oE -- "(--out|--csv|-o|--figures) [^ ]+" | grep -vE " (results/demo(/|$)|REPORT-demo\.md$|plots/figures/demo$)")
    n=$(make -s -n demo 2>/dev/null | grep -oE -- "(--out|--csv|-o|--figures) [^ ]+" | wc -l)
    if [ -z "$bad" ] && [ "$n" -ge 5 ]; then ok "make demo writes only under results/demo, REPORT-demo.md, plots/figures/demo"
    else not_ok "make demo writes only its own outputs" "$n outputs; outside: $bad"; fi
    if make -s -n demo 2>/dev/null | grep -- "--precision bf16" | grep -q -- "--skip-unsupported"; then
        ok "make demo skips (and records) a precision the CPU lacks"
    else not_ok "make demo skips (and records) a precision the CPU lacks"; fi
else
    skip "make targets" "not a git checkout"
fi

# An installed layout: PREFIX/bin/moebench finds PREFIX/share/moebench/plots.
mkdir -p "$WORK/inst/bin" "$WORK/inst/share/moebench/plots" "$WORK/run"
cp "$M" "$WORK/inst/bin/moebench" && cp plots/*.gp "$WORK/inst/share/moebench/plots/"
printf 'schema_version,scenario,mode,variant,backend,precision,threads,task,batch_size,decode,target_qps,rep,tgt_tok_per_s,tgt_tokens,wall_s\n1,t,offline,dense,ref,fp32,1,en-de,1,greedy,,1,100,100,1\n' >"$WORK/run/r.csv"
if (cd "$WORK/run" && "$WORK/inst/bin/moebench" report r.csv -o R.md >/dev/null 2>&1) &&
    grep -q "share/moebench/plots/" "$WORK/run/R.md"; then
    ok "an installed moebench report uses PREFIX/share/moebench/plots"
elif ! command -v gnuplot >/dev/null; then skip "installed report finds its plots" "gnuplot not installed"
else not_ok "an installed moebench report uses PREFIX/share/moebench/plots" "$(grep -n gnuplot "$WORK/run/R.md" | head -3)"; fi
