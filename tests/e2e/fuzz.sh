# Replays every fuzz corpus (tests/fuzz/corpus/TARGET) through its target,
# built as a plain program (build*/fuzz/replay_TARGET, `make test` builds
# them; under SAN=1 with the sanitizers): an input that once crashed a
# target and was added to the corpus keeps being run.
. tests/e2e/lib.sh
dir=$(dirname "$MOEBENCH")/fuzz
for t in scenario model csv bleu ids; do
    if [ ! -x "$dir/replay_$t" ]; then
        not_ok "fuzz corpus $t replays" "$dir/replay_$t is not built (make test builds it)"
        continue
    fi
    if out=$(cd "$WORK" && "$dir/replay_$t" "$OLDPWD/tests/fuzz/corpus/$t" 2>&1); then
        ok "fuzz corpus $t replays ($(echo "$out" | tail -1))"
    else not_ok "fuzz corpus $t replays" "$(echo "$out" | tail -20)"; fi
done
