#!/usr/bin/env bash
# bench/view.sh - make bench-view: weft-trace view on a trace of about ten
# million events (issue 17's targets: index built in <= 1.5 s; every zoom
# or pan answered in <= 50 ms at the server, p95 over a scripted session of
# 200; server memory <= 300 MB), beside `go tool trace` on the Go trace of
# the same program (the time until it says it is listening, and its peak
# RSS).
#
# The trace: WEFT_PROCS=2 bench/spawn -n N (N = BENCH_VIEW_N, default
# 1100000: 9.9 M events), the trace bench/tool.sh reads, or the file in
# BENCH_VIEW_TRACE. Each of BENCH_RUNS runs (default 5, after one
# discarded warm-up) starts the server, takes the index time it prints,
# plays the session (python3: 200 windows from a seeded walk of zooms by
# 1/4 to 4x and pans by up to a window, at 1600 px, over HTTP keep-alive)
# and reads the server's time per answer from its Server-Timing header,
# then its peak RSS (VmHWM) and stops it. With BENCH_VIEW_GO=1 (the
# default when go is installed) each run is followed by `go tool trace`
# on the Go trace, timed until its "listening" line. With BENCH_VIEW_PAGE=1
# (the default when node and chromium are installed) each run also loads
# the page in headless Chromium (tracer/view/dev/drive.mjs --measure): the
# time from navigation to the first painted timeline and the JS heap
# after it. Medians (min-max).
#
# Environment: BENCH_RUNS, BENCH_VIEW_N, BENCH_VIEW_TRACE, BENCH_VIEW_GO, BENCH_VIEW_PAGE,
# WEFT_BENCH_DIR (the weft programs, default this directory),
# WEFT_TRACE_BIN (default ../weft-trace from it), WEFT_VIEW_DIR, TMPDIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=${BENCH_RUNS:-5}
n=${BENCH_VIEW_N:-1100000}
weft_dir=${WEFT_BENCH_DIR:-$here}
wt=${WEFT_TRACE_BIN:-$weft_dir/../weft-trace}
with_go=${BENCH_VIEW_GO:-1}
command -v go > /dev/null 2>&1 || with_go=0
with_page=${BENCH_VIEW_PAGE:-1}
{ command -v node && command -v "${CHROMIUM:-chromium}"; } > /dev/null 2>&1 || with_page=0
export WEFT_VIEW_DIR=${WEFT_VIEW_DIR:-$here/../tracer/view}
export WEFT_TRACE_NO_PROGRESS=1

[[ $runs =~ ^[1-9][0-9]*$ && $n =~ ^[1-9][0-9]*$ ]] || {
	echo "usage: BENCH_RUNS=K BENCH_VIEW_N=N $0" >&2
	exit 2
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-view.XXXXXX")
trap 'kill $(jobs -p) 2> /dev/null || true; rm -rf "$tmp"' EXIT

trace=${BENCH_VIEW_TRACE:-}
if [[ -z $trace ]]; then
	echo "- making the trace: WEFT_PROCS=2 WEFT_TRACE=... $weft_dir/spawn -n $n" >&2
	WEFT_PROCS=2 WEFT_TRACE=$tmp/big.wt "$weft_dir/spawn" -n "$n" > /dev/null
	trace=$tmp/big.wt
fi
events=$("$wt" stats --json "$trace" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
if [[ $with_go == 1 ]]; then
	(cd "$here/go" && go build -o "$tmp/go-spawn" ./spawn)
	echo "- making the Go trace: GOMAXPROCS=2 go-spawn -n $n -trace ..." >&2
	GOMAXPROCS=2 "$tmp/go-spawn" -n "$n" -trace "$tmp/go.trace" > /dev/null
fi

# One run of weft-trace view: "index_s p50_ms p95_ms max_ms wall_p95_ms rss_mb".
view_run() {
	rm -f "$tmp/fifo"
	mkfifo "$tmp/fifo"
	"$wt" view "$trace" > "$tmp/fifo" 2> "$tmp/view.err" &
	local pid=$! line url
	IFS= read -r line < "$tmp/fifo"
	url=$(sed -n 's/.*serving \(http:[^ ]*\).*/\1/p' <<< "$line")
	local idx
	idx=$(sed -n 's/.*indexed in \([0-9.]*\) s.*/\1/p' "$tmp/view.err")
	local q
	q=$(python3 - "$url" <<'PY'
import http.client, json, random, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port)
def get(path):
    t = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    wall = (time.perf_counter() - t) * 1e3
    st = r.getheader("Server-Timing") or "q;dur=nan"
    return body, float(st.split("dur=")[1]), wall
meta = json.loads(get("/api/meta")[0])
dur = meta["duration"]
rnd = random.Random(17)
a, b = 0, dur
srv, wall = [], []
for _ in range(200):
    span = b - a
    if rnd.random() < 0.5:
        f = rnd.choice([0.25, 0.5, 2, 4])
        c0 = a + rnd.random() * span
        span = max(1000, min(dur, int(span * f)))
        a = int(c0 - span / 2)
    else:
        a += int((rnd.random() * 2 - 1) * span)
    a = max(0, min(a, dur - span))
    b = a + span
    _, s, w = get("/api/procs?t0=%d&t1=%d&w=1600" % (a, b))
    srv.append(s); wall.append(w)
srv.sort(); wall.sort()
print("%.2f %.2f %.2f %.2f" % (srv[len(srv) // 2], srv[int(len(srv) * 0.95)], srv[-1],
                               wall[int(len(wall) * 0.95)]))
PY
)
	# the page: first paint (ms) and JS heap (MB), or nan
	local fp=nan heap=nan
	if [[ $with_page == 1 ]]; then
		TMPDIR="$tmp" node --experimental-websocket "$here/../tracer/view/dev/drive.mjs" "$url" --measure \
			> "$tmp/page.out" 2>&1 || true
		fp=$(sed -n 's/^first_paint_ms=\([0-9.]*\)$/\1/p' "$tmp/page.out")
		heap=$(sed -n 's/^js_heap_mb=\([0-9.]*\)$/\1/p' "$tmp/page.out")
		fp=${fp:-nan} heap=${heap:-nan}
	fi
	local rss
	rss=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")
	kill -TERM "$pid"
	wait "$pid" || true
	echo "$idx $q $rss $fp $heap"
}

# One run of go tool trace: "ready_s rss_mb" (until it prints that it listens).
go_run() {
	local start end pid rss
	rm -f "$tmp/gofifo"
	mkfifo "$tmp/gofifo"
	start=$(date +%s.%N)
	BROWSER=true /usr/bin/time -f "%M" -o "$tmp/go.rss" go tool trace -http=127.0.0.1:0 "$tmp/go.trace" \
		> /dev/null 2> "$tmp/gofifo" &
	pid=$!
	while IFS= read -r line; do
		[[ $line == *"listening"* ]] && break
	done < "$tmp/gofifo"
	end=$(date +%s.%N)
	# the trace binary go tool trace runs (then go and time(1) end, and time reports)
	pkill -TERM -f "pkg/tool/[^ ]*/trace -http=127.0.0.1:0 $tmp/go.trace" 2> /dev/null || true
	wait "$pid" 2> /dev/null || true
	rss=$(awk '{ printf "%.0f", $1 / 1024 }' "$tmp/go.rss" 2> /dev/null || echo "?")
	echo "$(python3 -c "print('%.2f' % ($end - $start))") $rss"
}

echo "- warm-up" >&2
view_run > /dev/null
for ((r = 1; r <= runs; r++)); do
	echo "- run $r/$runs" >&2
	view_run >> "$tmp/view.txt"
	[[ $with_go == 1 ]] && go_run >> "$tmp/go.txt"
done

python3 - "$tmp/view.txt" "${with_go}" "$tmp/go.txt" "$events" "$runs" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
def col(k):
    v = [r[k] for r in rows]
    return "%.2f (%.2f-%.2f)" % (statistics.median(v), min(v), max(v))
print("weft-trace view on %s events, %s runs (medians, min-max):" % (sys.argv[4], sys.argv[5]))
print("  index built            %s s   (target <= 1.5 s)" % col(0))
print("  zoom/pan at the server p50 %s ms, p95 %s ms, max %s ms   (target p95 <= 50 ms)"
      % (col(1), col(2), col(3)))
print("  zoom/pan round trip    p95 %s ms (python client, keep-alive)" % col(4))
print("  peak RSS               %s MB   (target <= 300 MB)" % col(5))
if all(r[6] == r[6] for r in rows):  # not nan: the page was measured
    print("  page: first paint      %s ms (headless Chromium, navigation to the first timeline)" % col(6))
    print("  page: JS heap          %s MB (after a collection)" % col(7))
if sys.argv[2] == "1":
    g = [list(map(float, l.split())) for l in open(sys.argv[3])]
    t = [r[0] for r in g]; m = [r[1] for r in g]
    print("go tool trace on the Go trace of the same program:")
    print("  ready (listening)      %.2f (%.2f-%.2f) s" % (statistics.median(t), min(t), max(t)))
    print("  peak RSS               %.0f (%.0f-%.0f) MB" % (statistics.median(m), min(m), max(m)))
PY
