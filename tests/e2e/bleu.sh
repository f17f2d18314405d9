#!/bin/sh
# End-to-end tests of `moebench bleu`: sacreBLEU's text line and our JSON,
# stdin, one-line errors, the time a 3,000-line corpus takes (reported, not
# asserted), and a cross-check against Python's sacrebleu on real WMT data
# (newstest2013 de/fr/cs/ru read in place from $MOEBENCH_DATA, with perturbed
# copies made here as hypotheses). The cross-check skips with a message when
# sacrebleu cannot be imported or the data is absent; it installs nothing.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${MOEBENCH_DATA:-$ROOT/../shared/data}
W=$WORK

printf '%s\n' 'The dog bit the man.' "It wasn't surprising." 'The man had just bitten him.' >"$W/hyp"
printf '%s\n' 'The dog bit the man.' 'It was not unexpected.' 'The man bit him first.' >"$W/ref1"
printf '%s\n' 'The dog had bit the man.' 'No one was surprised.' 'The man had bitten the dog.' >"$W/ref2"

# expect NAME WANT CMD...: ok when CMD succeeds and prints exactly WANT.
expect() {
    name=$1; want=$2; shift 2
    if got=$("$@" 2>&1) && [ "$got" = "$want" ]; then ok "$name"
    else not_ok "$name" "want: $want
got:  $got"; fi
}

# Expected lines are sacreBLEU 2.6.0's own output for the same input.
SIG2='nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0'
expect "text line, two references" \
    "BLEU|$SIG2 = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)" \
    "$MOEBENCH" bleu "$W/hyp" "$W/ref1" "$W/ref2"
ONE='BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 45.07 70.6/42.9/36.4/37.5 (BP = 1.000 ratio = 1.000 hyp_len = 17 ref_len = 17)'
expect "text line, one reference" "$ONE" "$MOEBENCH" bleu "$W/hyp" "$W/ref1"
expect "hypotheses from stdin" "$ONE" sh -c '"$1" bleu - "$2" <"$3"' sh "$MOEBENCH" "$W/ref1" "$W/hyp"
expect "reference from stdin, options after files" \
    "BLEU|nrefs:1|case:lc|eff:no|tok:intl|smooth:exp|version:2.6.0 = 38.45 63.2/37.5/30.8/30.0 (BP = 1.000 ratio = 1.118 hyp_len = 19 ref_len = 17)" \
    sh -c '"$1" bleu "$2" - --lc --tokenize intl <"$3"' sh "$MOEBENCH" "$W/hyp" "$W/ref1"
expect "chrF line" "chrF2|nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0 = 59.73" \
    "$MOEBENCH" bleu --chrf "$W/hyp" "$W/ref1" "$W/ref2"
expect "max order 6 and width 4" \
    "BLEU|$SIG2 = 43.2832 82.4/50.0/45.5/37.5/40.0/33.3 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)" \
    "$MOEBENCH" bleu --max-order 6 --width 4 "$W/hyp" "$W/ref1" "$W/ref2"

printf '%s\n' 'Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;' >"$W/ro.hyp"
printf '%s\n' 'producţia de zahăr brut se exprimă în zahăr alb;' >"$W/ro.ref"
expect "sentence BLEU, floor smoothing" \
    "BLEU|nrefs:1|case:mixed|eff:yes|tok:13a|smooth:floor[0.10]|version:2.6.0 = 4.52 35.7/15.4/0.8/0.9 (BP = 1.000 ratio = 1.400 hyp_len = 14 ref_len = 10)" \
    "$MOEBENCH" bleu --sentence --smooth floor:0.1 "$W/ro.hyp" "$W/ro.ref"
out=$("$MOEBENCH" bleu --sentence "$W/hyp" "$W/ref1" "$W/ref2" 2>&1)
if [ "$(printf '%s\n' "$out" | grep -c '^BLEU|nrefs:2|case:mixed|eff:yes|.* = ')" -eq 3 ]; then
    ok "--sentence prints one line per hypothesis"
else not_ok "--sentence prints one line per hypothesis" "$out"; fi

out=$("$MOEBENCH" bleu --json "$W/hyp" "$W/ref1" "$W/ref2" 2>&1)
case $out in
*'"name": "BLEU", "score": 48.53, "signature": "nrefs:2|'*'"nrefs": "2"'*'"counts": [14, 7, 5, 3], "totals": [17, 14, 11, 8]}')
    ok "--json keys and values" ;;
*) not_ok "--json keys and values" "$out" ;;
esac
if command -v python3 >/dev/null 2>&1; then
    if printf '%s\n' "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin); assert d["tok"] == "13a"'; then
        ok "--json is valid JSON"
    else not_ok "--json is valid JSON" "$out"; fi
    out=$("$MOEBENCH" bleu --json --chrf --sentence "$W/hyp" "$W/ref1" 2>&1)
    if printf '%s\n' "$out" | python3 -c 'import json, sys; assert [json.loads(l)["line"] for l in sys.stdin] == [1, 2, 3]'; then
        ok "--json --sentence is one JSON object a line"
    else not_ok "--json --sentence is one JSON object a line" "$out"; fi
else
    skip "--json is valid JSON" "python3 not found"
fi
if "$MOEBENCH" bleu --help | grep -q 'JSON keys'; then ok "--help documents the JSON keys"
else not_ok "--help documents the JSON keys"; fi
if "$MOEBENCH" --help | grep -q '^  bleu '; then ok "bleu is listed in moebench --help"
else not_ok "bleu is listed in moebench --help"; fi

head -n 2 "$W/ref1" >"$W/short"
check_fails "line count mismatch" "^moebench: .*/short: 2 lines, but the hypotheses .* have 3$" \
    "$MOEBENCH" bleu "$W/hyp" "$W/short"
check_fails "unreadable file" "^moebench: .*/missing.txt: cannot open: " \
    "$MOEBENCH" bleu "$W/hyp" "$W/missing.txt"
printf 'ok\n\377 bad\n' >"$W/bad.txt"
check_fails "invalid UTF-8 names file and line" "^moebench: .*/bad.txt:2: invalid UTF-8 at byte 1$" \
    "$MOEBENCH" bleu "$W/bad.txt" "$W/short"
check_fails "unknown option" "^moebench: bleu: unknown option '--bogus'; see 'moebench bleu --help'$" \
    "$MOEBENCH" bleu --bogus "$W/hyp" "$W/ref1"
check_fails "option without its value" "^moebench: bleu: option '--tokenize' needs a value" \
    "$MOEBENCH" bleu "$W/hyp" "$W/ref1" --tokenize
check_fails "unknown tokenizer" "^moebench: bleu: --tokenize: unknown tokenizer 'zh'" \
    "$MOEBENCH" bleu --tokenize zh "$W/hyp" "$W/ref1"
check_fails "bad smoothing" "^moebench: bleu: --smooth: unknown smoothing 'laplace'" \
    "$MOEBENCH" bleu --smooth laplace "$W/hyp" "$W/ref1"
check_fails "too few files" "^moebench: bleu: needs HYP and at least one REF" "$MOEBENCH" bleu "$W/hyp"

# perturb FILE SEED: a plausible system output: ~8% of words dropped, ~8%
# swapped with their neighbour, some upper-cased; then in sed (UTF-8 aware
# where the C.UTF-8 locale exists) the third word capitalised, the last lower-cased.
perturb() {
    awk -v seed="$2" 'BEGIN { srand(seed) }
    { n = split($0, w, " "); out = ""
      for (i = 1; i <= n; i++) {
          r = rand()
          if (r < 0.08) continue
          if (r < 0.16 && i < n) { t = w[i]; w[i] = w[i + 1]; w[i + 1] = t }
          x = w[i]; if (rand() < 0.05) x = toupper(x)
          out = out (out == "" ? "" : " ") x
      }
      print out }' "$1" | LC_ALL=C.UTF-8 sed -E 's/(^| )([^ ])/\1\U\2/3; s/([^ ]+)$/\L\1/'
}
now() { date +%s.%N; }

# Timing of a 3,000-line corpus (real data when present, else synthetic).
if [ -f "$DATA/wmt/newstest2013.de" ]; then
    src="newstest2013.de"; cp_ref="$DATA/wmt/newstest2013.de"
else
    src="synthetic"; cp_ref="$W/synth.ref"
    awk 'BEGIN { srand(5); for (l = 0; l < 3000; l++) { s = ""; n = 10 + int(rand() * 30)
         for (i = 0; i < n; i++) s = s (i ? " " : "") "w" int(rand() * 5000); print s "." } }' >"$cp_ref"
fi
perturb "$cp_ref" 11 >"$W/timing.hyp"
t0=$(now)
if "$MOEBENCH" bleu "$W/timing.hyp" "$cp_ref" >"$W/timing.out" 2>&1; then
    t1=$(now); "$MOEBENCH" bleu --chrf "$W/timing.hyp" "$cp_ref" >>"$W/timing.out" 2>&1; t2=$(now)
    ok "3,000-line corpus scores"
    awk -v a="$t0" -v b="$t1" -v c="$t2" -v s="$src" -v n="$(wc -l <"$cp_ref")" 'BEGIN {
        printf "# %d-line corpus (%s): BLEU %.3f s, chrF %.3f s (whole command, files read included)\n", n, s, b - a, c - b }'
else
    not_ok "3,000-line corpus scores" "$(cat "$W/timing.out")"
fi

# Cross-check against sacreBLEU. Each task line: HYP<TAB>REFS (space-separated)<TAB>options.
if ! python3 -c 'import sacrebleu' 2>/dev/null; then
    skip "cross-check against sacrebleu" "python3 cannot import sacrebleu (pip install sacrebleu to run it)"
    exit 0
fi
if [ ! -d "$DATA/wmt" ]; then
    skip "cross-check against sacrebleu" "no data at $DATA/wmt (set MOEBENCH_DATA)"
    exit 0
fi
: >"$W/tasks"
for lang in de fr cs ru; do
    ref="$DATA/wmt/newstest2013.$lang"
    if [ ! -f "$ref" ]; then skip "sacrebleu cross-check $lang" "$ref is absent"; continue; fi
    perturb "$ref" 1 >"$W/hyp.$lang"
    perturb "$ref" 2 >"$W/ref2.$lang"
    task() { printf '%s\t%s\t%s\n' "$W/hyp.$lang" "$1" "$2" >>"$W/tasks"; }
    for opts in "" "--tokenize intl" "--chrf"; do task "$ref" "$opts"; done
    # sacrebleu takes most of a second a task: the other variants run on one or two languages.
    case $lang in
    de) task "$ref" "--lc"; task "$ref $W/ref2.$lang" ""; task "$ref $W/ref2.$lang" "--chrf" ;;
    fr) task "$ref" "--tokenize none" ;;
    cs) task "$ref $W/ref2.$lang" "--lc" ;;
    ru) task "$ref" "--lc"; task "$ref" "--chrf --lc" ;;
    esac
done
if [ -f "$W/hyp.de" ]; then
    head -n 500 "$W/hyp.de" >"$W/hyp500.de"; head -n 500 "$DATA/wmt/newstest2013.de" >"$W/ref500.de"
    for opts in "--sentence" "--sentence --smooth add-k:1" "--sentence --chrf" "--smooth floor:0.1 --max-order 6"; do
        printf '%s\t%s\t%s\n' "$W/hyp500.de" "$W/ref500.de" "$opts" >>"$W/tasks"
    done
fi

# sacreBLEU's side: its API exactly as its command line drives it (lines
# rstripped, effective order for sentence scores, text via Score.format);
# task N's lines go to theirs.N.
cat >"$W/sacre.py" <<'EOF'
import sys
from sacrebleu.metrics import BLEU, CHRF
def read(p):
    with open(p, encoding="utf-8", newline="\n") as f:
        return [l.rstrip() for l in f]
part, parts = int(sys.argv[3]), int(sys.argv[4])
for n, task in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    if n % parts != part:
        continue
    hyp, refs, opts = task.rstrip("\n").split("\t")
    o = opts.split()
    arg = lambda k, d: o[o.index(k) + 1] if k in o else d
    sys_ = read(hyp); refs = [read(r) for r in refs.split()]
    sent = "--sentence" in o
    if "--chrf" in o:
        m = CHRF(lowercase="--lc" in o)
    else:
        sm = arg("--smooth", "exp").split(":")
        m = BLEU(lowercase="--lc" in o, tokenize=arg("--tokenize", "13a"), smooth_method=sm[0],
                 smooth_value=float(sm[1]) if len(sm) > 1 else None,
                 max_ngram_order=int(arg("--max-order", 4)), effective_order=sent)
    scores = [m.sentence_score(h, list(r)) for h, *r in zip(sys_, *refs)] if sent else [m.corpus_score(sys_, refs)]
    with open(f"{sys.argv[2]}/theirs.{n}", "w", encoding="utf-8") as out:
        for s in scores:
            print(s.format(2, False, m.get_signature().format()), file=out)
EOF
# Two processes, one per core of the project's machines.
python3 "$W/sacre.py" "$W/tasks" "$W" 0 2 2>"$W/sacre0.err" & pid=$!
python3 "$W/sacre.py" "$W/tasks" "$W" 1 2 2>"$W/sacre1.err"; rc1=$?
wait $pid; rc0=$?
if [ $rc0 -ne 0 ] || [ $rc1 -ne 0 ]; then
    not_ok "sacrebleu cross-check" "$(tail -n 5 "$W/sacre0.err" "$W/sacre1.err")"; exit 0
fi
echo "# sacrebleu $(python3 -c 'import sacrebleu; print(sacrebleu.__version__)'), $(wc -l <"$W/tasks") tasks"
n=0
while IFS="$(printf '\t')" read -r hyp refs opts; do
    n=$((n + 1))
    # The version field differs only where another sacrebleu release is installed.
    # shellcheck disable=SC2086 # refs and opts are word lists
    "$MOEBENCH" bleu "$hyp" $refs $opts 2>&1 | sed 's/|version:[^ ]*//' >"$W/ours.$n"
    sed 's/|version:[^ ]*//' "$W/theirs.$n" >"$W/theirs.$n.nv"
    name="sacrebleu cross-check: $(basename "$hyp"), $(echo $refs | wc -w) ref(s) ${opts:-(defaults)}"
    if [ -s "$W/ours.$n" ] && cmp -s "$W/ours.$n" "$W/theirs.$n.nv"; then ok "$name"
    else not_ok "$name" "$(diff "$W/ours.$n" "$W/theirs.$n.nv" | head -n 6)"; fi
done <"$W/tasks"
