#!/usr/bin/env bash
# bench/tool.sh - make bench-tool: weft-trace's speed and memory on a trace
# of about ten million events (issue 5's target: stats and gaps at >= 20 M
# events/s in <= 100 MB), beside `go tool trace -d` on the Go trace of the
# same program.
#
# The trace: WEFT_PROCS=2 bench/spawn -n N (N = BENCH_TOOL_N, default
# 1100000: 9.9 M events), and GOMAXPROCS=2 of its Go twin with -trace (10 M
# events). Each command runs BENCH_RUNS times (default 5) after one
# discarded warm-up, the commands alternating (Go's after weft's); the
# table shows the median wall time (min-max), events per second of that
# median, the median user CPU time and the largest peak RSS. Rows:
#
#   stats, gaps, tasks          as a user runs them (the reader on a second
#                               thread when there are two CPUs)
#   stats, gaps (one thread)    WEFT_TRACE_THREADS=0
#   dump > /dev/null            every event printed: the weft analogue of
#   go tool trace -d            Go's parse-and-print (BENCH_TOOL_GO=0 skips
#                               it: it takes ~40 s and 3 GB a run here)
#   export (perfetto, gzip)     the default export: Perfetto's protobuf,
#                               gzip'd (deflate on a thread of its own)
#   export (perfetto, inline)   the same, WEFT_TRACE_THREADS=0
#   export --no-gzip            Perfetto's protobuf, raw
#   export --format chrome      the JSON (1.5 GB here; BENCH_TOOL_JSON=0
#                               skips it)
#   export --format go          the Go 1.19 trace
# and then the size of each export, in bytes per weft event.
#
# Environment: BENCH_RUNS, BENCH_TOOL_N, BENCH_TOOL_GO, WEFT_BENCH_DIR (the
# weft programs, default this directory), WEFT_TRACE_BIN (default
# ../weft-trace from it), TMPDIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=${BENCH_RUNS:-5}
n=${BENCH_TOOL_N:-1100000}
with_go=${BENCH_TOOL_GO:-1}
weft_dir=${WEFT_BENCH_DIR:-$here}
wt=${WEFT_TRACE_BIN:-$weft_dir/../weft-trace}

[[ $runs =~ ^[1-9][0-9]*$ && $n =~ ^[1-9][0-9]*$ ]] || {
	echo "usage: BENCH_RUNS=K BENCH_TOOL_N=N $0" >&2
	exit 2
}
[[ -x $wt && -x $weft_dir/spawn ]] || {
	echo "$0: no $wt or $weft_dir/spawn (make first)" >&2
	exit 2
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-tool.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export WEFT_TRACE_NO_PROGRESS=1

echo "- making the trace: WEFT_PROCS=2 WEFT_TRACE=... $weft_dir/spawn -n $n" >&2
WEFT_PROCS=2 WEFT_TRACE=$tmp/big.wt "$weft_dir/spawn" -n "$n" >/dev/null
events=$("$wt" stats --json "$tmp/big.wt" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')

go_events=
if [[ $with_go == 1 ]] && command -v go >/dev/null 2>&1; then
	(cd "$here/go" && go build -o "$tmp/go-spawn" ./spawn)
	echo "- making the Go trace: GOMAXPROCS=2 go-spawn -n $n -trace ..." >&2
	(cd "$tmp" && GOMAXPROCS=2 ./go-spawn -n "$n" -trace "$tmp/go.trace" >/dev/null)
	go_events=$(go tool trace -d "$tmp/go.trace" | wc -l)
else
	with_go=0
fi

labels=("stats" "gaps" "tasks" "stats (one thread)" "gaps (one thread)" "dump > /dev/null"
	"export (perfetto, gzip)" "export (perfetto, inline)" "export --no-gzip" "export --format go")
[[ ${BENCH_TOOL_JSON:-1} == 1 ]] && labels+=("export --format chrome")
declare -A cmdline=(
	["export (perfetto, gzip)"]="$wt export -o $tmp/out.pftrace.gz $tmp/big.wt"
	["export (perfetto, inline)"]="env WEFT_TRACE_THREADS=0 $wt export -o $tmp/out1.pftrace.gz $tmp/big.wt"
	["export --no-gzip"]="$wt export --no-gzip -o $tmp/out.pftrace $tmp/big.wt"
	["export --format go"]="$wt export --format go -o $tmp/out.go.trace $tmp/big.wt"
	["export --format chrome"]="$wt export --format chrome -o $tmp/out.json $tmp/big.wt"
	["stats"]="$wt stats $tmp/big.wt"
	["gaps"]="$wt gaps $tmp/big.wt"
	["tasks"]="$wt tasks $tmp/big.wt"
	["stats (one thread)"]="env WEFT_TRACE_THREADS=0 $wt stats $tmp/big.wt"
	["gaps (one thread)"]="env WEFT_TRACE_THREADS=0 $wt gaps $tmp/big.wt"
	["dump > /dev/null"]="$wt dump $tmp/big.wt"
)

# one LABEL KEEP: run once, append "label|wall|user|kib" if KEEP
one() {
	local out
	# shellcheck disable=SC2086 # the command lines are word lists
	/usr/bin/time -o "$tmp/one" -f "%e %U %M" ${cmdline[$1]} >/dev/null 2>"$tmp/err" || {
		cat "$tmp/err" >&2
		echo "$0: $1 failed" >&2
		exit 1
	}
	out=$(tail -n 1 "$tmp/one")
	[[ $2 == 1 ]] && echo "$1|${out// /|}" >>"$tmp/times"
	return 0
}

: >"$tmp/times"
for ((r = 0; r <= runs; r++)); do
	echo "- round $r of $runs$([[ $r == 0 ]] && echo ' (warm-up)')" >&2
	for l in "${labels[@]}"; do
		one "$l" $((r > 0))
	done
done
# Go's rounds after weft's: its 3 GB come and go with page reclaim that
# would slow the weft runs beside it.
if [[ $with_go == 1 ]]; then
	labels+=("go tool trace -d")
	cmdline["go tool trace -d"]="go tool trace -d $tmp/go.trace"
	for ((r = 0; r <= runs; r++)); do
		echo "- go round $r of $runs$([[ $r == 0 ]] && echo ' (warm-up)')" >&2
		one "go tool trace -d" $((r > 0))
	done
fi

model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
echo "# weft-trace on a $(python3 -c "print('%.1f' % ($events / 1e6))") M-event trace"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc) CPUs, ${model:-unknown model}, $(uname -sr), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- trace: WEFT_PROCS=2 bench/spawn -n $n: $events events, $(stat -c %s "$tmp/big.wt") bytes"
[[ $with_go == 1 ]] && echo "- Go trace: GOMAXPROCS=2 bench/go/spawn -n $n -trace: $go_events events, $(stat -c %s "$tmp/go.trace") bytes, $(go version | cut -d' ' -f3)"
echo "- runs: $runs counted after 1 warm-up, weft's commands alternating, then Go's; median (min-max)"
echo
echo "| command | wall | M events/s | user CPU | peak RSS |"
echo "|---|---|---|---|---|"
for l in "${labels[@]}"; do
	ev=$events
	[[ $l == "go tool trace -d" ]] && ev=$go_events
	grep -F "$l|" "$tmp/times" | awk -F'|' -v l="$l" '$1 == l' | python3 -c '
import sys
rows = [line.rstrip("\n").split("|") for line in sys.stdin]
label = sys.argv[1]
ev = float(sys.argv[2])
wall = sorted(float(r[1]) for r in rows)
user = sorted(float(r[2]) for r in rows)
kib = max(int(r[3]) for r in rows)
med = lambda v: v[(len(v) - 1) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
m = med(wall)
rate = ev / m / 1e6 if m > 0 else float("inf")
rss = "%.1f MB" % (kib / 1024) if kib < 1024 * 1024 else "%.2f GB" % (kib / 1024 / 1024)
print("| %s | %.2f s (%.2f-%.2f) | %.1f | %.2f s | %s |" % (label, m, wall[0], wall[-1], rate, med(user), rss))
' "$l" "$ev"
done
echo
echo "| export | bytes | bytes/event |"
echo "|---|---|---|"
for f in out.pftrace.gz out.pftrace out.go.trace out.json; do
	[[ -f $tmp/$f ]] || continue
	b=$(stat -c %s "$tmp/$f")
	echo "| $f | $b | $(python3 -c "print('%.2f' % ($b / $events))") |"
done
