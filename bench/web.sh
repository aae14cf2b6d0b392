#!/usr/bin/env bash
# bench/web.sh - make bench-web: the workshop's web service (bench/mandelweb)
# and an echo server (bench/echo) beside their Go twins (bench/go/mandelweb,
# bench/go/echo), as markdown tables on stdout (progress on stderr).
#
# Usage: bench/web.sh [mandelweb] [echo] [idle]   (default: all three)
#
#   mandelweb  each server is loaded with hey (Debian's, the workshop's
#              tool) in four shapes:
#                workshop-1  hey -c 1 -n N1 -q 1 /mandelbrot   (section 4.9.3:
#                            one request a second; the workshop sends 1000,
#                            N1 keeps a run short)
#                workshop-5  hey -c 5 -n N5 -q 5 /mandelbrot   (4.9.4: 25
#                            requests a second asked, more than 2 CPUs draw:
#                            overload, so requests/s is the capacity and
#                            the latency the queue)
#                throughput  hey -c 32 -z Ss /mandelbrot?size=SIZE (a small
#                            picture, so that the network path, HTTP and
#                            the scheduler matter)
#                index       hey -c 32 -z Ss /   (no picture at all: HTTP,
#                            the network path and the scheduler alone)
#              weft and Go alternately (weft, Go, weft, Go, ...), each run
#              on a fresh server (-addr 127.0.0.1:0; the address is read
#              from its "listening on" line) warmed by 2 requests first; at
#              each P of BENCH_PROCS (WEFT_PROCS / GOMAXPROCS). The table:
#              medians of requests/s (requests / the span from the first
#              start to the last end), p50 and p99 latency (nearest rank
#              over hey's per-request times, -o csv: with 20 requests p99
#              is the slowest), weft/Go. Every response must be a 200: a
#              run with another status or an error is reported and left
#              out of the medians.
#   echo       bench/run.sh on bench/echo and bench/go/echo: ns per echoed
#              message at 1, 100 and 10,000 connections (messages/s = 1e9 /
#              ns), and the wake-up of 10,000 idle connections.
#   idle       10,000 idle connections of each echo server (a task or a
#              goroutine each, blocked in a read): the server process's
#              resident memory then ("# idle-rss-kib"), medians, weft and
#              Go alternately.
#
# Environment (make bench-web passes its variables of the same names):
#   BENCH_RUNS          counted runs per cell (default 5)
#   BENCH_PROCS         the Ps (default "1 2")
#   BENCH_WEB_N1        requests of workshop-1 (default 20: 20 s a run)
#   BENCH_WEB_N5        requests of workshop-5 (default 50)
#   BENCH_WEB_SECONDS   duration of throughput (default 10)
#   BENCH_WEB_SIZE      the picture's side in throughput (default 16)
#   BENCH_WEB_SHAPES    the shapes to run (default: all four, in order)
#   WEFT_BENCH_DIR      where bench/mandelweb and bench/echo are (default:
#                       this directory)
# Needs hey and go (./dev bench installs both: BENCH_PACKAGES); a missing
# one, or a bench/mandelweb not built (configure: http-parser, libpng),
# skips its part with a message. About 35 minutes at the defaults on the
# 2-vCPU machine of RESULTS.md; run it alone (hey shares the CPUs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
weft_dir=${WEFT_BENCH_DIR:-$here}
runs=${BENCH_RUNS:-5}
procs=${BENCH_PROCS:-1 2}
n1=${BENCH_WEB_N1:-20}
n5=${BENCH_WEB_N5:-50}
secs=${BENCH_WEB_SECONDS:-10}
small=${BENCH_WEB_SIZE:-16}
shapes=${BENCH_WEB_SHAPES:-workshop-1 workshop-5 throughput index}

usage() {
	echo "usage: $0 [mandelweb] [echo] [idle]   (BENCH_RUNS, BENCH_PROCS, BENCH_WEB_*: see the script)" >&2
	exit 2
}
for v in "$runs" "$n1" "$n5" "$secs" "$small"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || usage
done
for p in $procs; do [[ $p =~ ^[1-9][0-9]*$ ]] || usage; done
for s in $shapes; do [[ $s =~ ^(workshop-1|workshop-5|throughput|index)$ ]] || usage; done
[[ -n ${procs// /} ]] || usage
parts=("$@")
[[ ${#parts[@]} -gt 0 ]] || parts=(mandelweb echo idle)
for part in "${parts[@]}"; do
	[[ $part == mandelweb || $part == echo || $part == idle ]] || usage
done

tmp=$(mktemp -d)
srv_pid=
cleanup() {
	[[ -z $srv_pid ]] || kill "$srv_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

have_go=0
command -v go >/dev/null 2>&1 && have_go=1
model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
start=$SECONDS

# median: of the numbers on stdin, or "-".
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		printf "%.10g\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'
}

# ---- mandelweb ---------------------------------------------------------------------

# start_server IMPL PROCS: start a fresh server on a free port; sets srv_pid, srv_url.
start_server() {
	local impl=$1 p=$2 line
	rm -f "$tmp/fifo"
	mkfifo "$tmp/fifo"
	case $impl in
	weft) WEFT_PROCS=$p "$weft_dir/mandelweb" -addr 127.0.0.1:0 >"$tmp/fifo" 2>"$tmp/srv.err" & ;;
	go) GOMAXPROCS=$p "$tmp/go-mandelweb" -addr 127.0.0.1:0 >"$tmp/fifo" 2>"$tmp/srv.err" & ;;
	esac
	srv_pid=$!
	exec 3<"$tmp/fifo"
	if ! read -r line <&3 || [[ ! $line =~ ^listening\ on\ (http://[^ ]+/)$ ]]; then
		echo "web.sh: the $impl server did not start: $(head -c 300 "$tmp/srv.err")" >&2
		exit 1
	fi
	srv_url=${BASH_REMATCH[1]%/}
}

stop_server() {
	kill -TERM "$srv_pid" 2>/dev/null || true
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=
	exec 3<&-
}

# hey_run IMPL PROCS SHAPE: one counted run; appends "shape procs impl rps p50 p99" to $res.
hey_run() {
	local impl=$1 p=$2 shape=$3 out total ok
	local -a args
	case $shape in
	workshop-1) args=(-c 1 -n "$n1" -q 1) path=/mandelbrot ;;
	workshop-5) args=(-c 5 -n "$n5" -q 5) path=/mandelbrot ;;
	throughput) args=(-c 32 -z "${secs}s") path="/mandelbrot?size=$small" ;;
	index) args=(-c 32 -z "${secs}s") path=/ ;;
	esac
	start_server "$impl" "$p"
	hey -c 1 -n 2 "$srv_url$path" >/dev/null 2>&1 || true
	# -o csv: a line per request (response time and start offset in
	# seconds, status), so that p99 exists for any count (hey's summary
	# prints a percentile only from 100 requests on).
	hey "${args[@]}" -o csv "$srv_url$path" >"$tmp/hey.csv" 2>"$tmp/hey.err" || true
	stop_server
	# Requests, non-200s, and the span from the first start to the last end.
	read -r total bad span <<<"$(awk -F, 'NR > 1 && NF >= 8 {
			n++; if ($7 != "200") bad++; e = $8 + $1; if (e > m) m = e }
		END { printf "%d %d %.6f\n", n, bad, m }' "$tmp/hey.csv")"
	if [[ $total == 0 || $bad != 0 ]]; then
		echo "# $impl $shape procs=$p: $total requests, $bad not 200, left out: $(head -c 300 "$tmp/hey.err" | tr '\n' ' ')" >>"$tmp/notes"
		return 0
	fi
	# Nearest-rank percentiles, in ms.
	read -r p50 p99 <<<"$(awk -F, 'NR > 1 && NF >= 8 { print $1 }' "$tmp/hey.csv" | sort -g | awk '
		{ v[NR] = $1 }
		END { i = int(NR * 0.50); if (i < NR * 0.50) i++; j = int(NR * 0.99); if (j < NR * 0.99) j++
			printf "%.1f %.1f\n", v[i] * 1000, v[j] * 1000 }')"
	echo "$shape $p $impl $(awk -v n="$total" -v s="$span" 'BEGIN { printf "%.1f", n / s }') $p50 $p99" >>"$res"
}

part_mandelweb() {
	local impls=()
	res=$tmp/web
	: >"$res"
	: >"$tmp/notes"
	if ! command -v hey >/dev/null 2>&1; then
		echo "# hey not installed (Debian package hey; ./dev bench): mandelweb skipped"
		return 0
	fi
	[[ -x $weft_dir/mandelweb ]] && impls+=(weft) ||
		echo "# $weft_dir/mandelweb not built (configure needs http-parser and libpng): weft column skipped"
	if [[ $have_go == 1 ]]; then
		(cd "$here/go" && go build -o "$tmp/go-mandelweb" ./mandelweb)
		impls+=(go)
	else
		echo "# go not installed: Go column skipped"
	fi
	[[ ${#impls[@]} -gt 0 ]] || return 0
	echo "# weft vs Go: the workshop's mandelweb under hey"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: $(nproc) CPUs, ${model:-unknown model}, $(uname -sr); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	[[ $have_go == 0 ]] || echo "- go: $(go version)"
	echo "- hey: $(command -v hey) ($(dpkg-query -W -f='${Version}' hey 2>/dev/null || echo '?')), on the same CPUs"
	echo "- shapes: workshop-1 = hey -c 1 -n $n1 -q 1 /mandelbrot; workshop-5 = hey -c 5 -n $n5 -q 5 /mandelbrot; throughput = hey -c 32 -z ${secs}s /mandelbrot?size=$small; index = hey -c 32 -z ${secs}s /"
	echo "- runs: $runs per cell, each on a fresh server warmed by 2 requests, weft and Go alternating"
	echo
	for p in $procs; do
		for shape in $shapes; do
			echo "running mandelweb $shape procs=$p: ${impls[*]} x $runs" >&2
			for ((r = 0; r < runs; r++)); do
				for impl in "${impls[@]}"; do
					hey_run "$impl" "$p" "$shape"
				done
			done
			echo "  (all so far: $((SECONDS - start)) s)" >&2
		done
	done
	cat "$tmp/notes"
	echo "| shape | procs | weft req/s | Go req/s | weft/Go | weft p50 ms | Go p50 ms | weft p99 ms | Go p99 ms | weft p99 / Go p99 |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for shape in $shapes; do
		for p in $procs; do
			local wr gr w50 g50 w99 g99 nw ng
			wr=$(awk -v s="$shape" -v p="$p" '$1 == s && $2 == p && $3 == "weft" { print $4 }' "$res" | median)
			gr=$(awk -v s="$shape" -v p="$p" '$1 == s && $2 == p && $3 == "go" { print $4 }' "$res" | median)
			w50=$(awk -v s="$shape" -v p="$p" '$1 == s && $2 == p && $3 == "weft" { print $5 }' "$res" | median)
			g50=$(awk -v s="$shape" -v p="$p" '$1 == s && $2 == p && $3 == "go" { print $5 }' "$res" | median)
			w99=$(awk -v s="$shape" -v p="$p" '$1 == s && $2 == p && $3 == "weft" { print $6 }' "$res" | median)
			g99=$(awk -v s="$shape" -v p="$p" '$1 == s && $2 == p && $3 == "go" { print $6 }' "$res" | median)
			nw=$(awk -v s="$shape" -v p="$p" '$1 == s && $2 == p && $3 == "weft"' "$res" | wc -l)
			ng=$(awk -v s="$shape" -v p="$p" '$1 == s && $2 == p && $3 == "go"' "$res" | wc -l)
			[[ $nw == "$runs" && $ng == "$runs" ]] || shape_note=" [$nw/$ng runs]"
			printf "| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$shape" "${shape_note:-}" "$p" \
				"$wr" "$gr" "$(ratio "$wr" "$gr")" "$w50" "$g50" "$w99" "$g99" "$(ratio "$w99" "$g99")"
			shape_note=
		done
	done
	echo
	echo "Medians of $runs runs. Latencies in milliseconds (hey's per-request times, 0.1 ms resolution). weft/Go > 1 is weft ahead in req/s; p99 ratio < 1 is weft ahead."
	echo
}

# ---- echo ------------------------------------------------------------------------------

part_echo() {
	WEFT_BENCH_DIR=$weft_dir bash "$here/run.sh" -r "$runs" -p "$procs" \
		-T "weft vs Go: echo over TCP loopback (ns per message; messages/s = 1e9 / ns)" echo
	echo
}

# ---- idle -------------------------------------------------------------------------------

part_idle() {
	local impls=() out kib
	[[ -x $weft_dir/echo ]] && impls+=(weft)
	if [[ $have_go == 1 ]]; then
		(cd "$here/go" && go build -o "$tmp/go-echo" ./echo)
		impls+=(go)
	fi
	[[ ${#impls[@]} -gt 0 ]] || return 0
	: >"$tmp/idle"
	for p in $procs; do
		echo "running idle procs=$p: ${impls[*]} x $runs" >&2
		for ((r = 0; r < runs; r++)); do
			for impl in "${impls[@]}"; do
				case $impl in
				weft) out=$(WEFT_PROCS=$p "$weft_dir/echo" -idle 10000 2>"$tmp/idle.err") || out= ;;
				go) out=$(GOMAXPROCS=$p "$tmp/go-echo" -idle 10000 2>"$tmp/idle.err") || out= ;;
				esac
				kib=$(sed -n 's/^# idle-rss-kib: \([0-9][0-9]*\)$/\1/p' <<<"$out")
				if [[ -z $kib ]]; then
					echo "# $impl idle procs=$p failed: $(head -c 300 "$tmp/idle.err" | tr '\n' ' ')"
					continue
				fi
				echo "$p $impl $kib" >>"$tmp/idle"
			done
		done
	done
	echo "# weft vs Go: 10,000 idle connections of the echo server"
	echo
	echo "The server process's VmRSS once its 10,000 connection tasks (goroutines) are blocked in a read; the clients are another process. Medians of $runs runs."
	echo
	echo "| procs | weft KiB | Go KiB | weft/Go | weft KiB per connection | Go KiB per connection |"
	echo "|---|---|---|---|---|---|"
	for p in $procs; do
		local w g
		w=$(awk -v p="$p" '$1 == p && $2 == "weft" { print $3 }' "$tmp/idle" | median)
		g=$(awk -v p="$p" '$1 == p && $2 == "go" { print $3 }' "$tmp/idle" | median)
		echo "| $p | $w | $g | $(ratio "$w" "$g") | $(awk -v v="$w" 'BEGIN { if (v != "-") printf "%.1f", v / 10000; else print "-" }') | $(awk -v v="$g" 'BEGIN { if (v != "-") printf "%.1f", v / 10000; else print "-" }') |"
	done
	echo
}

for part in "${parts[@]}"; do
	"part_$part"
done
echo "web.sh: done in $(((SECONDS - start + 30) / 60)) min ($((SECONDS - start)) s)" >&2
