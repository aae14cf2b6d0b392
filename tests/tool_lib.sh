# tool_lib.sh - shared by the weft-trace shell tests (tests/tool_*.test).
#
# Each test makes the traces it needs with tests/progs/tshape (programs of
# known shape), runs weft-trace on them and checks the output; JSON output
# is read with python3's json module. A failed check prints what was
# expected and what came out, and the test exits 1.
set -eu
B=${WEFT_BUILDDIR:-$(pwd)}
S=${WEFT_SRCDIR:-$(dirname "$0")/..}
WT="$B/weft-trace"
TSHAPE="$B/tests/progs/tshape"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-tool.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export WEFT_TRACE_NO_PROGRESS=1
# Under ASan, an error it finds (a leak on an error path among them) exits
# with 86, not with ASan's default 1, which is also weft-trace's status
# for a bad trace: tool_bad.test would take a leak for the expected failure.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86"
export ASAN_OPTIONS
unset WEFT_TRACE

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# shape PROCS MODE [N]: write $TMP/MODE.wt (and $TMP/MODE.ids: name=id lines)
# Every trace the runtime writes must fit the scheduler's state machine:
# weft-trace stats counts the events that do not ("anomalies"), and a
# correct program has none (a syscall exit that took back a P handed off
# to another task's syscall once made thousands).
shape() {
	WEFT_PROCS=$1 "$TSHAPE" "$2" "$TMP/$2.wt" ${3:-} > "$TMP/$2.ids" ||
		fail "tshape $2 failed"
	"$WT" stats --json "$TMP/$2.wt" > "$TMP/$2.stats.json" || fail "stats on tshape $2"
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(d["anomalies"] != 0)' \
		"$TMP/$2.stats.json" || fail "tshape $2 at $1 Ps: $(grep -o '"anomalies": *[0-9]*' "$TMP/$2.stats.json") in its trace"
}

# need_tool CMD [PACKAGE]: skip the test (77) without CMD, or fail when
# WEFT_REQUIRE_TOOLS=1 (.ci/run: the tools are installed there, a skip
# would hide a broken export)
need_tool() {
	command -v "$1" > /dev/null 2>&1 && return 0
	[ "${WEFT_REQUIRE_TOOLS:-0}" = 1 ] && fail "$1 not found (Debian package ${2:-$1}; ./dev setup)"
	echo "SKIP: $1 not found (Debian package ${2:-$1}; ./dev setup installs it)"
	exit 77
}

# check JSONFILE PYEXPR [MESSAGE]: the expression over d (the parsed file) holds
check() {
	python3 - "$1" "$2" "${3:-}" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
try:
    ok = eval(sys.argv[2])
except Exception as e:
    print("FAIL: %s: %r" % (sys.argv[2], e), file=sys.stderr)
    sys.exit(1)
if not ok:
    print("FAIL: %s %s" % (sys.argv[2], sys.argv[3]), file=sys.stderr)
    sys.exit(1)
print("ok: %s" % sys.argv[2])
PY
}

# expect_grep FILE PATTERN: PATTERN (grep -E) is in FILE
expect_grep() {
	grep -E -q -- "$2" "$1" || { cat "$1" >&2; fail "no '$2' in $1"; }
	echo "ok: '$2'"
}

expect_no_grep() {
	! grep -E -q -- "$2" "$1" || { cat "$1" >&2; fail "'$2' should not be in $1"; }
	echo "ok: no '$2'"
}
