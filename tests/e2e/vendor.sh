#!/bin/sh
# The vendor evaluation end to end on the tiny preset: the server search
# probes several rates (one row each, doubling then bisecting), prefill and
# decode are recorded apart, peak RSS is per variant, the system description
# is written beside the CSV, `--quick` keeps every batch size a different
# workload, and `moebench report --summary` puts it all on one page with a
# validity verdict.
. tests/e2e/lib.sh
M=$MOEBENCH

cat >"$WORK/v.ini" <<'INI'
[scenario]
name = v
modes = offline, single-stream, server
batch_sizes = 1, 4, 16
target_qps = 50
server_search = yes
search_steps = 2
search_max_qps = 400
max_batch = 4
batch_timeout_ms = 2
latency_bound_ms = 5000
[model]
preset = tiny
variants = dense, token-moe
[workload]
data = synthetic
tasks = en-de
sentences = 40
decode = greedy
max_len = 12
[measure]
backends = ref
precisions = fp32
threads = 1
warmup = 0
repetitions = 1
INI
if $M run "$WORK/v.ini" --out "$WORK" --quick 2>"$WORK/run.err"; then ok "vendor scenario runs"
else not_ok "vendor scenario runs" "$(tail -3 "$WORK/run.err")"; fi
csv="$WORK/v.csv"
col() { head -1 "$csv" | tr ',' '\n' | grep -nx "$1" | cut -d: -f1; }
MODE=$(col mode); VAR=$(col variant); QPS=$(col target_qps); SENT=$(col sentences); B=$(col batch_size)
PF=$(col prefill_ms); DM=$(col decode_ms_per_token); DT=$(col decode_tok_per_s); RSS=$(col peak_rss_mb)

# --quick: 16 sentences (the largest batch), not 8: batch 16 is not batch 8 again
n=$(awk -F, -v m="$MODE" -v s="$SENT" -v b="$B" 'NR > 1 && $m == "offline" && $b == 16 {print $s}' "$csv" | sort -u)
if [ "$n" = "16" ]; then ok "--quick keeps the largest batch size's worth of sentences"
else not_ok "--quick keeps the largest batch size's worth of sentences" "sentences: $n"; fi

# server search: at least 3 distinct probed rates per variant, starting at 50, never above 400
for v in dense token-moe; do
    rates=$(awk -F, -v m="$MODE" -v q="$QPS" -v c="$VAR" -v v="$v" 'NR > 1 && $m == "server" && $c == v {print $q}' "$csv")
    k=$(printf '%s\n' $rates | sort -u | wc -l)
    first=$(printf '%s\n' $rates | head -1)
    max=$(printf '%s\n' $rates | sort -g | tail -1)
    if [ "$k" -ge 3 ] && [ "$first" = "50" ] && awk "BEGIN{exit !($max <= 400)}"; then ok "server search probes $k rates for $v"
    else not_ok "server search probes rates for $v" "rates: $(echo $rates)"; fi
done

# prefill/decode apart: prefill filled and positive on every offline and single-stream row, and
# shorter than the whole repetition on most of them (the prefill is re-timed after the
# repetition, so on a loaded machine a spike during the re-timing can outlast a short
# repetition of the tiny model: seen twice with a training run beside the suite). The decode
# figures are the full time minus the re-timed prefill, so noise can leave a row without them
# too; most rows must have them, positive.
bad=$(awk -F, -v m="$MODE" -v p="$PF" -v w="$(col wall_s)" \
    'NR > 1 && ($m == "offline" || $m == "single-stream") { n++; if (!($p > 0)) print NR; else if (!($p / 1000 < $w)) long++ }
     END { if (long * 2 > n) print "prefill longer than the repetition on " long " of " n " rows" }' "$csv")
dec=$(awk -F, -v m="$MODE" -v d="$DM" -v t="$DT" \
    'NR > 1 && ($m == "offline" || $m == "single-stream") { n++; if ($d > 0 && $t > 0) k++ } END { print (k * 2 > n) ? "ok" : k "/" n }' "$csv")
if [ -z "$bad" ] && [ "$dec" = ok ]; then ok "prefill_ms, decode_ms_per_token, decode_tok_per_s on offline and single-stream rows"
else not_ok "prefill and decode columns" "rows without a good prefill: $bad; rows with decode figures: $dec"; fi
srv=$(awk -F, -v m="$MODE" -v p="$PF" 'NR > 1 && $m == "server" && $p != ""' "$csv" | wc -l)
if [ "$srv" -eq 0 ]; then ok "no prefill split on server rows"; else not_ok "no prefill split on server rows"; fi
r1=$(awk -F, -v c="$VAR" -v r="$RSS" 'NR > 1 && $c == "dense" {print $r}' "$csv" | head -1)
if awk "BEGIN{exit !($r1 > 0)}"; then ok "peak_rss_mb recorded per variant"; else not_ok "peak_rss_mb recorded" "$r1"; fi

sys="$WORK/v.system.txt"
miss=""
for k in "cpu:" "vendor, family/model/stepping:" "flags present:" "flags absent:" "frequency:" "logical CPUs online:" \
    "memory:" "os:" "compiler:" "moebench:" "backend: ref"; do
    grep -q "^$k" "$sys" 2>/dev/null || miss="$miss '$k'"
done
if [ -z "$miss" ]; then ok "system description beside the CSV"; else not_ok "system description beside the CSV" "missing:$miss"; fi

if $M report "$csv" --summary -o "$WORK/S.md" --figures "$WORK/sf" 2>"$WORK/rep.err"; then ok "report --summary"
else not_ok "report --summary" "$(cat "$WORK/rep.err")"; fi
miss=""
for pat in "^# moebench vendor summary" "^## System" "flags present:" "^## Precisions" "| ref | fp32 | supported" \
    "^## \`v\`: ref fp32, 1 thread, greedy" "time to first token" "server: highest rate with p99 <= 5000 ms" \
    "^| dense | " "^| token-moe | " "rows are not valid|0 of [0-9]* rows are not valid"; do
    grep -Eq -- "$pat" "$WORK/S.md" || miss="$miss /$pat/"
done
if [ -z "$miss" ]; then ok "summary has system, precisions, headline table, validity"
else not_ok "summary sections" "missing:$miss"; fi
# the validity verdict has teeth: with a 1-hour minimum every row is invalid
$M report "$csv" --summary --min-duration 3600 -o "$WORK/S2.md" --figures "$WORK/sf" 2>/dev/null
if grep -q "^| dense | .*\*\*no\*\*: [0-9]* of [0-9]* rows (e.g. ran" "$WORK/S2.md"; then ok "validity: too short is invalid"
else not_ok "validity: too short is invalid" "$(grep '^| dense' "$WORK/S2.md")"; fi
