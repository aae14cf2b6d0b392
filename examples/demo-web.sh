#!/usr/bin/env bash
# examples/demo-web.sh - the workshop's live-tracing chapter (seed 002, 4.9)
# on weft: trace a running web service over HTTP, calm and overloaded
# (`make demo-web`; doc/tour.md, "Tracing a live service", walks through it).
#
# Usage: examples/demo-web.sh [BUILD_DIR]   (default: the source tree)
#
# Starts bench/mandelweb on free loopback ports with /debug/weft/ served
# (-addr 127.0.0.1:0 -debug 127.0.0.1:0; the addresses are read from its
# "debug on" and "listening on" lines), then:
#   calm      hey -c 1 -n N1 -q 1 /mandelbrot (the workshop's 4.9.3: one
#             request a second); meanwhile a trace of SECONDS from
#             /debug/weft/trace, read with weft-trace stats, tasks, gaps;
#   overload  hey -c 5 -n N5 -q 5 /mandelbrot (4.9.4: 25 requests a second
#             asked of 2 CPUs); meanwhile another trace and, half-way
#             through it, the task dump /debug/weft/tasks?debug=1 (and
#             without ?debug=1, a line a task);
# and prints, side by side, what changed: hey's latencies, the Ps' busy
# time, the scheduling latency, and the "runnable" counter of
# `weft-trace view` (its maximum and time-weighted mean over the trace,
# from the view server's /api/counters). The server is stopped with
# SIGTERM. Every file goes to a new directory (printed), which is kept;
# nothing else is written or deleted.
#
# Environment:
#   WEFT_DEMO_WEB_N1       requests of the calm load (default 20: ~20 s;
#                          the workshop's 1000 takes 17 minutes)
#   WEFT_DEMO_WEB_N5       requests of the overload (default 50: ~25 s)
#   WEFT_DEMO_WEB_SECONDS  each trace's length (default 5, as the workshop)
#   WEFT_DEMO_WEB_DIR      where the new directory is made (default BUILD_DIR)
#   WEFT_PROCS             the server's Ps (default 2)
# Needs curl, hey (Debian package hey; ./dev bench-web installs it) and
# bench/mandelweb (configure builds it when it finds http-parser and libpng).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$top}
n1=${WEFT_DEMO_WEB_N1:-20}
n5=${WEFT_DEMO_WEB_N5:-50}
secs=${WEFT_DEMO_WEB_SECONDS:-5}
procs=${WEFT_PROCS:-2}
web=$build/bench/mandelweb
wt=$build/weft-trace

die() {
	echo "demo-web: $*" >&2
	exit 1
}
for v in "$n1" "$n5" "$procs"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || die "WEFT_DEMO_WEB_N1, WEFT_DEMO_WEB_N5 and WEFT_PROCS must be positive integers"
done
[[ $secs =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v s="$secs" 'BEGIN { exit !(s > 0 && s <= 60) }' ||
	die "WEFT_DEMO_WEB_SECONDS must be a number of seconds in (0, 60]"
command -v curl >/dev/null 2>&1 || die "curl not found (Debian package curl)"
command -v hey >/dev/null 2>&1 || die "hey not found (Debian package hey; ./dev bench-web installs it)"
[[ -x $wt ]] || die "$wt is not built (run make, or make demo-web)"
[[ -x $web ]] || die "$web is not built (configure builds it when it finds http-parser and libpng: Debian libhttp-parser-dev and libpng-dev; ./dev setup)"

parent=${WEFT_DEMO_WEB_DIR:-$build}
out=$(mktemp -d "$parent/demo-web.XXXXXX") || die "cannot make a directory in $parent"
fifo=$out/.server-out
srv_pid=
hey_pid=
cleanup() {
	[[ -z $hey_pid ]] || kill "$hey_pid" 2>/dev/null || true
	if [[ -n $srv_pid ]]; then
		kill -TERM "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	exec 3<&- 2>/dev/null || true
	rm -f "$fifo" # ours: made below
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server: its two lines are read from a FIFO, which blocks until they
# are printed (no sleep synchronises anything).
mkfifo "$fifo"
WEFT_PROCS=$procs "$web" -addr 127.0.0.1:0 -debug 127.0.0.1:0 >"$fifo" 2>"$out/server.err" &
srv_pid=$!
exec 3<"$fifo"
read -r dline <&3 || true
read -r lline <&3 || true
[[ $dline =~ ^debug\ on\ (http://[^ ]+/debug/weft/)$ ]] && debug=${BASH_REMATCH[1]} &&
	[[ $lline =~ ^listening\ on\ (http://[^ ]+/)$ ]] && url=${BASH_REMATCH[1]}mandelbrot ||
	die "bench/mandelweb did not start: $(head -c 300 "$out/server.err")"

echo "bench/mandelweb on $procs Ps: $url, /debug/weft/ on $debug"
echo "files in $out (kept)"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"

# hey_start NAME ARGS...: hey in the background, its report to NAME.hey.
hey_start() {
	local name=$1
	shift
	echo "\$ hey $* $url &"
	hey "$@" "$url" >"$out/$name.hey" 2>&1 &
	hey_pid=$!
}

hey_wait() {
	local name=$1
	wait "$hey_pid" || die "hey failed: $(head -c 300 "$out/$name.hey")"
	hey_pid=
	echo "hey: $(grep -E 'Requests/sec' "$out/$name.hey" | tr -s ' \t' ' ')," \
		"$(grep -E 'Fastest|Slowest|Average' "$out/$name.hey" | tr -s ' \t' ' ' | paste -sd, -)"
	grep -E '^ +(50|90|95|99)% in' "$out/$name.hey" | tr -s ' \t' ' ' | paste -sd, - |
		sed 's/^ */hey latency:/'
	grep -A3 'Status code distribution' "$out/$name.hey" | grep -E '^\s+\[' | tr -s ' \t' ' ' |
		sed 's/^ */hey status:/'
}

# get PATH FILE: a GET of /debug/weft/PATH into FILE, which must be a 200.
get() {
	local code
	code=$(curl -sS -o "$2" -w '%{http_code}' "$debug$1") || die "curl $debug$1 failed"
	[[ $code == 200 ]] || die "$debug$1: HTTP $code: $(head -c 300 "$2")"
}

# runnable FILE: the runnable counter of `weft-trace view` over the whole
# trace (one pixel: the maximum and the time-weighted mean).
runnable() {
	local f=$1 vurl dur js vp line rmax rmean
	WEFT_VIEW_DIR=$top/tracer/view "$wt" view --addr 127.0.0.1:0 "$f" >"$out/.view-out" 2>&1 &
	vp=$!
	for _ in $(seq 100); do
		vurl=$(grep -o 'http://[^ ]*/' "$out/.view-out" | head -1) && break
		kill -0 "$vp" 2>/dev/null || break
		sleep 0.1
	done
	if [[ -n ${vurl:-} ]]; then
		dur=$(curl -s "${vurl}api/meta" | sed -n 's/.*"duration":\([0-9]*\).*/\1/p')
		js=$(curl -s "${vurl}api/counters?t0=0&t1=$dur&w=1")
		line=$(sed -n 's/.*{"name":"runnable","max_ever":\([0-9]*\),"min":\[[^]]*\],"max":\[[^]]*\],"mean":\[\([0-9.e+]*\)\].*/\1 \2/p' <<<"$js")
		read -r rmax rmean <<<"$line"
		[[ -z $rmax ]] || printf "runnable tasks (weft-trace view's counter): at most %s, %.0f on average\n" "$rmax" "$rmean"
	else
		echo "(weft-trace view did not start: $(head -c 200 "$out/.view-out"))"
	fi
	kill -TERM "$vp" 2>/dev/null || true
	wait "$vp" 2>/dev/null || true
	rm -f "$out/.view-out"
}

# read_trace NAME: what the three commands say of NAME.wt.
read_trace() {
	local f=$out/$1.wt
	echo
	echo "\$ weft-trace stats $f"
	"$wt" stats "$f" | grep -E '^(duration|tasks|blocks|stop-world) |^events +[0-9]' || true
	"$wt" stats "$f" | sed -n '/^per P/,$p'
	echo
	echo "\$ weft-trace tasks $f"
	"$wt" tasks "$f"
	echo
	echo "\$ weft-trace gaps $f   (the distributions, network waits and verdict)"
	"$wt" gaps "$f" | grep -E '^  (task run lengths|scheduling latency|network waits)' || true
	"$wt" gaps "$f" | sed -n '/^verdict/,$p'
	echo
	runnable "$f" | tee "$out/$1.runnable"
}

# ---- calm: one request a second ------------------------------------------------
echo
echo "== calm: one request a second"
hey_start calm -c 1 -n "$n1" -q 1
sleep 1 # a first request in flight
echo "\$ curl -o $out/calm.wt '${debug}trace?seconds=$secs'"
get "trace?seconds=$secs" "$out/calm.wt"
get "tasks?debug=1" "$out/calm-tasks.txt"
echo "\$ curl '${debug}tasks?debug=1'   (after the trace)"
cat "$out/calm-tasks.txt"
kill -0 "$hey_pid" 2>/dev/null ||
	echo "(hey ended before the trace did: WEFT_DEMO_WEB_N1=$n1 requests are fewer than the trace's seconds)"
read_trace calm
hey_wait calm

# ---- overload: 5 clients at 5 requests a second each -------------------------------
echo
echo "== overload: 5 clients asking 5 requests a second each"
hey_start over -c 5 -n "$n5" -q 5
sleep 2 # let the queue build
echo "\$ curl -o $out/over.wt '${debug}trace?seconds=$secs' &"
curl -sS -o "$out/over.wt" -w '%{http_code}' "${debug}trace?seconds=$secs" >"$out/.over-code" &
tr_pid=$!
sleep "$(awk -v s="$secs" 'BEGIN { print s / 2 }')"
echo "\$ curl '${debug}tasks?debug=1'   (half-way through the trace)"
get "tasks?debug=1" "$out/over-tasks.txt"
get "tasks" "$out/over-tasks-all.txt"
cat "$out/over-tasks.txt"
echo "\$ curl '${debug}tasks' | grep -v row_task   (one task a line; the row tasks left out)"
grep -v row_task "$out/over-tasks-all.txt" || true
wait "$tr_pid" || die "curl ${debug}trace failed"
[[ $(cat "$out/.over-code") == 200 ]] || die "${debug}trace: HTTP $(cat "$out/.over-code")"
rm -f "$out/.over-code"
kill -0 "$hey_pid" 2>/dev/null ||
	echo "(hey ended before the trace did: raise WEFT_DEMO_WEB_N5=$n5)"
read_trace over
hey_wait over

# ---- the server ends -------------------------------------------------------------------
kill -TERM "$srv_pid"
st=0
wait "$srv_pid" || st=$?
srv_pid=
[[ $st == 0 ]] || echo "demo-web: bench/mandelweb exited with status $st after SIGTERM" >&2

# ---- side by side ------------------------------------------------------------------------
echo
echo "== calm against overload"
for name in calm over; do
	f=$out/$name.wt
	printf '%-5s %s\n' "$name" "$(grep -E 'Requests/sec|Average' "$out/$name.hey" | tr -s ' \t' ' ' | paste -sd, -)"
	printf '%-5s %s\n' "$name" "$("$wt" stats "$f" | grep -E '^  P[0-9]' | awk '{ printf "%s%s running %s", (NR > 1 ? ", " : ""), $1, $2 }')"
	printf '%-5s %s\n' "$name" "$("$wt" gaps "$f" | grep -E '^  scheduling latency' | tr -s ' ')"
	printf '%-5s %s\n' "$name" "$(cat "$out/$name.runnable")"
done
echo
echo "Look at them: $wt view $out/over.wt (open the URL it prints;"
echo "the counters row shows the runnable tasks), or weft-trace export for Perfetto."
echo "doc/tour.md, \"Tracing a live service\", explains what each figure shows."
