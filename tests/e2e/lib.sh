# Shared helpers for end-to-end tests: TAP output that tests/run.sh counts.
#   ok NAME / not_ok NAME DETAIL / skip NAME REASON
#   check NAME CMD...   runs CMD, ok when it exits 0
#   check_fails NAME PATTERN CMD...  ok when CMD exits non-zero and its
#                       stderr is one line matching PATTERN (grep -E)
# $MOEBENCH is the program under test; $WORK a scratch folder removed at exit.
: "${MOEBENCH:=$PWD/build/moebench}"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
# --backend auto caches its choice under $XDG_CACHE_HOME: tests keep theirs in $WORK
export XDG_CACHE_HOME="$WORK/cache"
ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; [ -n "$2" ] && printf '%s\n' "$2" | sed 's/^/# /'; return 0; }
skip() { echo "ok - $1 # SKIP $2"; }
check() {
    name=$1; shift
    if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
}
check_fails() {
    name=$1; pat=$2; shift 2
    if "$@" >"$WORK/.out" 2>"$WORK/.err"; then
        not_ok "$name" "expected failure, got success"; return 0
    fi
    lines=$(wc -l <"$WORK/.err")
    if [ "$lines" -eq 1 ] && grep -Eq -- "$pat" "$WORK/.err"; then ok "$name"
    else not_ok "$name" "stderr ($lines lines): $(cat "$WORK/.err")"; fi
}
# have_backend NAME: the program under test has backend NAME compiled in
# (make WITH_ONEDNN=0 / WITH_OPENBLAS=0 builds leave one out).
have_backend() {
    "$MOEBENCH" backends 2>/dev/null | grep -E "^$1 " | grep -vq "not compiled in"
}
