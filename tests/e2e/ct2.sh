#!/bin/sh
# `moebench export --format ctranslate2` and the CTranslate2 peer
# (docs/ctranslate2.md): the export of dense, tied, text-vocabulary and task
# sub-network models; refusals (routed MoE models, bad output folders, bad
# usage) with one-line errors, the right exit status and no folder left
# behind, also when a write fails part-way; and, when the ctranslate2 Python
# package is importable, scripts/ct2-peer.py: CTranslate2's greedy outputs on
# the export equal `moebench translate --ids` token for token (random and
# EOS-biased models, batches 1 and 4), its scores of moebench's outputs agree
# within the script's stated tolerance, and its rows are a results CSV that
# `moebench report` reads. Skipped with a message where ctranslate2 is absent.
. "$(dirname "$0")/lib.sh"
M=$MOEBENCH
W=$WORK

# expect NAME STATUS PATTERN CMD...: CMD exits STATUS with one stderr line matching PATTERN
expect() {
    name=$1; want=$2; pat=$3; shift 3
    "$@" >"$W/.out" 2>"$W/.err"; got=$?
    lines=$(wc -l <"$W/.err")
    if [ "$got" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -Eq -- "$pat" "$W/.err"; then ok "$name"
    else not_ok "$name" "status $got (want $want), stderr ($lines lines): $(cat "$W/.err")"; fi
}
# nothing named DIR or DIR.tmp-* exists
left_nothing() {
    if [ ! -e "$2" ] && ! ls "$2".tmp-* >/dev/null 2>&1; then ok "$1"; else not_ok "$1" "$(ls -d "$2"*)"; fi
}

"$M" init --preset tiny --variant dense --seed 5 -o "$W/dense.st" 2>/dev/null
"$M" init --preset tiny --variant dense --tie-embeddings yes --seed 9 -o "$W/tied.st" 2>/dev/null
"$M" init --preset tiny --variant task-moe --enc-routing task --seed 6 -o "$W/tm.st" 2>/dev/null
"$M" extract "$W/tm.st" --task de -o "$W/sub.st" 2>/dev/null
"$M" init --preset tiny --variant task-moe --seed 8 -o "$W/tm2.st" 2>/dev/null
"$M" extract "$W/tm2.st" --task de -o "$W/sub2.st" 2>/dev/null
"$M" init --preset tiny --variant token-moe --seed 7 -o "$W/tok.st" 2>/dev/null
"$M" init --preset tiny --variant sentence-moe --seed 7 -o "$W/sent.st" 2>/dev/null

for m in dense tied sub; do
    if "$M" export "$W/$m.st" --format ctranslate2 -o "$W/$m.ct2" 2>"$W/err" &&
       [ -s "$W/$m.ct2/model.bin" ] && [ -s "$W/$m.ct2/config.json" ] &&
       [ -s "$W/$m.ct2/shared_vocabulary.json" ] && [ -s "$W/$m.ct2/moebench.json" ] &&
       grep -q "^moebench: wrote $W/$m.ct2 (CTranslate2 TransformerSpec" "$W/err"; then ok "export $m"
    else not_ok "export $m" "$(cat "$W/err")"; fi
done
if grep -q "2 fixed MoE layers merged into dense FFNs" "$W/err"; then ok "the sub-network's fixed layers are merged"
else not_ok "the sub-network's fixed layers are merged" "$(cat "$W/err")"; fi

# a model with a SentencePiece vocabulary exports its pieces and the vocabulary itself
V=$W/vt
mkdir -p "$V"
awk 'BEGIN { for (i = 1; i <= 200; i++) print "the cat sat on the mat number " i }' >"$V/t.en"
awk 'BEGIN { for (i = 1; i <= 200; i++) print "die katze sass auf der matte nummer " i }' >"$V/t.de"
if "$M" vocab train --langs de,en --data "$V/t.en" "$V/t.de" --size 300 -o "$V/v.model" 2>"$W/err" &&
   "$M" init --preset tiny --variant dense --tasks en-de,de-en --vocab "$V/v.model" -o "$W/text.st" 2>>"$W/err" &&
   "$M" export "$W/text.st" --format ctranslate2 -o "$W/text.ct2" 2>>"$W/err" &&
   cmp -s "$V/v.model" "$W/text.ct2/sentencepiece.model" &&
   grep -q '"eos_token": "</s>"' "$W/text.ct2/config.json" &&
   grep -q '"en-de": "<2de>"' "$W/text.ct2/moebench.json" &&
   [ "$(grep -c '^  "' "$W/text.ct2/shared_vocabulary.json")" -eq 300 ]; then
    ok "a text model exports its SentencePiece pieces, tags and vocabulary file"
else not_ok "a text model exports its SentencePiece pieces, tags and vocabulary file" "$(tail -3 "$W/err")"; fi

# refusals: exit 1, one line, nothing written
expect "token-moe is refused: 1" 1 "encoder layer 1 of this token-moe model is a token-routed MoE layer" \
    "$M" export "$W/tok.st" --format ctranslate2 -o "$W/tok.ct2"
left_nothing "a refused token-moe leaves no folder" "$W/tok.ct2"
expect "sentence-moe is refused: 1" 1 "sentence-routed MoE layer" \
    "$M" export "$W/sent.st" --format ctranslate2 -o "$W/sent.ct2"
expect "a full task-moe model is refused, pointing at extract: 1" 1 "moebench extract" \
    "$M" export "$W/tm.st" --format ctranslate2 -o "$W/tm.ct2"
expect "a sub-network with a token-routed encoder is refused: 1" 1 "encoder layer 1 .*token-routed" \
    "$M" export "$W/sub2.st" --format ctranslate2 -o "$W/sub2.ct2"
left_nothing "a refused sub-network leaves no folder" "$W/sub2.ct2"
cp "$W/dense.ct2/model.bin" "$W/before.bin"
expect "an existing non-empty folder is never overwritten: 1" 1 "dense.ct2/?: exists and is not empty" \
    "$M" export "$W/tied.st" --format ctranslate2 -o "$W/dense.ct2/"
if cmp -s "$W/dense.ct2/model.bin" "$W/before.bin" && "$M" export "$W/dense.st" --format ctranslate2 \
       -o "$W/again.ct2" 2>/dev/null && cmp -s "$W/dense.ct2/model.bin" "$W/again.ct2/model.bin"; then
    ok "the refused folder is untouched; the export is deterministic"
else not_ok "the refused folder is untouched; the export is deterministic"; fi
expect "a missing parent folder: 1" 1 "the folder .*/nothere does not exist" \
    "$M" export "$W/dense.st" --format ctranslate2 -o "$W/nothere/x.ct2"
expect "a file in the way: 1" 1 "is a regular file; give the name of a new folder" \
    "$M" export "$W/dense.st" --format ctranslate2 -o "$W/dense.st"
expect "an empty name: 1" 1 "output folder name is empty" "$M" export "$W/dense.st" --format ctranslate2 -o ''
expect "a missing model file: 1" 1 "nothere.st" "$M" export "$W/nothere.st" --format ctranslate2 -o "$W/x.ct2"
mkdir "$W/empty.ct2"
check "an existing empty folder is filled" "$M" export "$W/dense.st" --format ctranslate2 -o "$W/empty.ct2"

# usage: exit 2
expect "unknown format: 2" 2 "unknown format 'onnx'; the one format is ctranslate2" \
    "$M" export "$W/dense.st" --format onnx -o "$W/x.ct2"
expect "no --format: 2" 2 "both --format ctranslate2 and -o DIR are needed" "$M" export "$W/dense.st" -o "$W/x.ct2"
expect "no model: 2" 2 "give exactly one model file" "$M" export --format ctranslate2 -o "$W/x.ct2"
expect "--max-positions 0: 2" 2 "--max-positions: 0 is out of range" \
    "$M" export "$W/dense.st" --format ctranslate2 -o "$W/x.ct2" --max-positions 0
expect "unknown option: 2" 2 "^moebench: export: unknown option '--no-such-option'; see 'moebench export --help'" \
    "$M" export --no-such-option
if "$M" export --help | grep -qi "exit status" && "$M" --help | grep -q "^  export "; then
    ok "export --help documents the exit status; export is in the command list"
else not_ok "export --help documents the exit status; export is in the command list"; fi

# a write that fails part-way (the file size limit: 64 blocks) leaves no half folder
(trap '' XFSZ; ulimit -f 64; exec "$M" export "$W/dense.st" --format ctranslate2 -o "$W/cut.ct2") >"$W/.out" 2>"$W/.err"
st=$?
if [ "$st" -eq 1 ] && [ "$(wc -l <"$W/.err")" -eq 1 ] && grep -q "model.bin: cannot write it: File too large" "$W/.err"
then ok "a failed write: exit 1 and one line naming the file and the reason"
else not_ok "a failed write: exit 1 and one line naming the file and the reason" "status $st: $(cat "$W/.err")"; fi
left_nothing "a failed write leaves no half-written folder" "$W/cut.ct2"

# ---- the peer: CTranslate2 on the export (optional) ----
PEER=scripts/ct2-peer.py
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c "import ctranslate2" 2>/dev/null; then
    why="the ctranslate2 Python package is not importable (pip install ctranslate2)"
    for t in "dense: CTranslate2 greedy = moebench" "sub-network: CTranslate2 greedy = moebench" \
             "tied: CTranslate2 greedy = moebench" "EOS-biased: CTranslate2 greedy = moebench" \
             "peer rows are a results CSV moebench report reads" "the peer skips with status 77 when ctranslate2 is absent"; do
        skip "$t" "$why"
    done
    exit 0
fi
# 10 sources of 1-14 words; --max-len 13 limits most to 13 tokens, one-word ones to 2 * 1 + 10 = 12,
# so a batch can hold different limits (CTranslate2 runs it to the largest; the check cuts each)
awk 'BEGIN { srand(4); print 57; for (i = 0; i < 9; i++) { n = 1 + int(rand() * 14); s = "";
     for (j = 0; j < n; j++) s = s (j ? " " : "") (8 + int(rand() * 500)); print s } }' >"$W/src"
peer() { # NAME MODEL CT2DIR EXTRA...: agreement on every sentence at batches 1 and 4
    name=$1; model=$2; dir=$3; shift 3
    if python3 "$PEER" "$model" "$dir" --src "$W/src" --task en-de --batch 1,4 --reps 1 --warmup 0 --max-len 13 \
           --moebench "$M" "$@" >"$W/peer.out" 2>&1 &&
       [ "$(grep -c "fp32 t1 b[14]: 10/10 sentences identical to moebench" "$W/peer.out")" -eq 2 ] &&
       grep -q "scores of moebench's outputs: .*: ok" "$W/peer.out"; then ok "$name"
    else not_ok "$name" "$(cat "$W/peer.out")"; fi
}
peer "dense: CTranslate2 greedy = moebench" "$W/dense.st" "$W/dense.ct2" -o "$W/peer.csv"
peer "sub-network: CTranslate2 greedy = moebench" "$W/sub.st" "$W/sub.ct2"
peer "tied: CTranslate2 greedy = moebench" "$W/tied.st" "$W/tied.ct2"

# EOS-biased copy of the dense model (as tests/oracle does): the output row of EOS becomes
# 1.1 x the row of moebench's most frequent output token, so some outputs stop at EOS
"$M" translate "$W/dense.st" --task en-de --ids --max-len 13 <"$W/src" >"$W/hyp" 2>/dev/null
tok=$(tr ' ' '\n' <"$W/hyp" | sort | uniq -c | sort -k1,1nr -k2,2n | awk 'NR == 1 { print $2 }')
python3 - "$W/dense.st" "$W/eos.st" "$tok" <<'EOF'
import json, struct, sys
from array import array
src, dst, tok = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
t = header["out.proj.w"]
begin = 8 + n + t["data_offsets"][0]
vocab, d = t["shape"]
w = array("f")
w.frombytes(data[begin:begin + vocab * d * 4])
for j in range(d):
    w[2 * d + j] = 1.1 * w[tok * d + j]
out = bytearray(data)
out[begin:begin + vocab * d * 4] = w.tobytes()
open(dst, "wb").write(out)
EOF
"$M" translate "$W/eos.st" --task en-de --ids --max-len 13 <"$W/src" >"$W/hyp.eos" 2>/dev/null
short=$(awk '{ if (NF < 12) n++ } END { print n + 0 }' "$W/hyp.eos")
if "$M" export "$W/eos.st" --format ctranslate2 -o "$W/eos.ct2" 2>"$W/err" && [ "$short" -gt 0 ]; then
    peer "EOS-biased: CTranslate2 greedy = moebench ($short of 10 stop at EOS)" "$W/eos.st" "$W/eos.ct2" --precision fp32,int8
else not_ok "EOS-biased: CTranslate2 greedy = moebench" "short outputs: $short; $(cat "$W/err")"; fi

hdr=$(head -1 "$W/peer.csv")
want=$(sed -n '/^#define MB_SCHEMA_COLUMNS/,/^$/p' common/mb_schema.h | grep -o 'X([a-z0-9_]*)' |
    sed 's/X(\(.*\))/\1/' | paste -sd, -)
if [ "$hdr" = "$want" ] && [ "$(awk -F, 'NR > 1 && $11 == "ctranslate2"' "$W/peer.csv" | wc -l)" -eq 2 ] &&
   "$M" report "$W/peer.csv" -o "$W/R.md" --figures "$W/fig" >/dev/null 2>"$W/err" && grep -q ctranslate2 "$W/R.md"; then
    ok "peer rows are a results CSV moebench report reads"
else not_ok "peer rows are a results CSV moebench report reads" "$hdr; $(cat "$W/err")"; fi
# the skip path: a python that cannot import ctranslate2
mkdir -p "$W/noct2/ctranslate2"
echo 'raise ImportError("hidden for the test")' >"$W/noct2/ctranslate2/__init__.py"
PYTHONPATH="$W/noct2" python3 "$PEER" "$W/dense.st" "$W/dense.ct2" --src "$W/src" >"$W/.out" 2>"$W/.err"
st=$?
if [ "$st" -eq 77 ] && grep -q "skipped: the ctranslate2 Python package is not importable" "$W/.err"; then
    ok "the peer skips with status 77 when ctranslate2 is absent"
else not_ok "the peer skips with status 77 when ctranslate2 is absent" "status $st: $(cat "$W/.err")"; fi

# scripts/bench-ct2.sh --quick (tiny model): one summary row with moebench's four columns
# filled; CTranslate2's too when the package is importable
if ! have_backend onednn || ! have_backend openblas; then
    skip "bench-ct2.sh --quick" "it times openblas and onednn; this build lacks one"
elif MOEBENCH=$M scripts/bench-ct2.sh --quick --out "$WORK/bct2" >"$WORK/bct2.out" 2>"$WORK/bct2.err" &&
    row=$(awk 'NR == 2' "$WORK/bct2/summary.txt") && echo "$row" | awk '{ exit !(NF == 11 && $3 > 0 && $4 > 0 && $5 > 0 && $6 > 0) }'; then
    if python3 -c "import ctranslate2" 2>/dev/null && ! echo "$row" | awk '{ exit !($7 > 0 && $8 > 0 && $9 != "-" && $11 != "-") }'; then
        not_ok "bench-ct2.sh --quick: CTranslate2 columns" "$row"
    else ok "bench-ct2.sh --quick: a summary row ($row)"; fi
else not_ok "bench-ct2.sh --quick" "$(tail -3 "$WORK/bct2.err"; cat "$WORK/bct2/summary.txt" 2>/dev/null)"; fi
