#!/usr/bin/env bash
# bench/run.sh - run the weft benchmarks beside their Go twins and print a
# markdown table of medians.
#
# Usage: bench/run.sh [-r RUNS] [-p "1 2"] BENCH...  (BENCH: spawn, yield, chan, mandelbrot)
#
# For each procs value P and each BENCH, the weft binary ($WEFT_BENCH_DIR/BENCH,
# default: this script's directory) runs with WEFT_PROCS=P and the Go program
# (built once from bench/go/BENCH) with GOMAXPROCS=P, alternately: one warm-up
# run of each, discarded, then RUNS counted runs of each (weft, Go, weft, Go,
# ...), so that drift of the machine (frequency, neighbours) hits both alike.
# Every "<name>: <value> ns/op" or "<name>: <value> ms" line and "# peak-rss-kib: X"
# line is kept; the table says which unit.
# A missing weft binary or a missing `go` skips that column with a message.
# BENCH_ARGS (optional) is passed to every binary, e.g. BENCH_ARGS="-n 100000",
# or BENCH_ARGS="-mode row -o /dev/null" for mandelbrot.
set -euo pipefail

usage() {
	echo "usage: $0 [-r RUNS] [-p \"1 2\"] BENCH...   (BENCH: spawn, yield, chan, mandelbrot)" >&2
	exit 2
}

runs=5
procs="1 2"
while getopts "r:p:h" opt; do
	case $opt in
	r) runs=$OPTARG ;;
	p) procs=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[[ $runs =~ ^[1-9][0-9]*$ ]] || usage
for p in $procs; do [[ $p =~ ^[1-9][0-9]*$ ]] || usage; done
[[ -n ${procs// /} ]] || usage
benches=("$@")
[[ ${#benches[@]} -gt 0 ]] || benches=(spawn yield)
for b in "${benches[@]}"; do [[ $b =~ ^[A-Za-z0-9_-]+$ ]] || usage; done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
weft_dir=${WEFT_BENCH_DIR:-$here}
read -r -a bench_args <<<"${BENCH_ARGS:-}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results # impl bench procs name value unit
rss=$tmp/rss         # impl bench procs kib
: >"$results"
: >"$rss"

model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
echo "# weft vs Go"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc) CPUs, ${model:-unknown model}, $(uname -sr)"

# Build the Go programs once; an empty go_bin[b] means no Go column for b.
declare -A go_bin weft_bin
have_go=0
if command -v go >/dev/null 2>&1; then
	have_go=1
	echo "- go: $(go version)"
fi
echo "- runs: $runs counted per cell after 1 discarded warm-up, weft and Go alternating"
echo
[[ $have_go == 1 ]] || echo "# go not installed: Go column skipped"
for b in "${benches[@]}"; do
	go_bin[$b]=
	if [[ $have_go == 1 ]]; then
		if [[ -d $here/go/$b ]]; then
			(cd "$here/go" && go build -o "$tmp/go-$b" "./$b")
			go_bin[$b]=$tmp/go-$b
		else
			echo "# no Go program $here/go/$b: Go column skipped for $b"
		fi
	fi
	weft_bin[$b]=
	if [[ -x $weft_dir/$b && ! -d $weft_dir/$b ]]; then
		weft_bin[$b]=$weft_dir/$b
	else
		echo "# weft binary $weft_dir/$b not found: weft column skipped for $b"
	fi
done

# run_one IMPL BENCH PROCS KEEP: run once; append the parsed lines if KEEP=1.
run_one() {
	local impl=$1 b=$2 p=$3 keep=$4 out rc=0
	if [[ $impl == weft ]]; then
		out=$(WEFT_PROCS=$p "${weft_bin[$b]}" ${bench_args[@]+"${bench_args[@]}"} 2>"$tmp/stderr") || rc=$?
	else
		out=$(GOMAXPROCS=$p "${go_bin[$b]}" ${bench_args[@]+"${bench_args[@]}"} 2>"$tmp/stderr") || rc=$?
	fi
	if [[ $rc != 0 ]]; then
		echo "# $impl $b procs=$p failed (exit $rc): $(head -c 300 "$tmp/stderr" | tr '\n' ' ')"
		return 0
	fi
	[[ $keep == 1 ]] || return 0
	awk -v i="$impl" -v b="$b" -v p="$p" -v r="$rss" '
		/^[A-Za-z0-9_.-]+: [0-9.eE+-]+ (ns\/op|ms)$/ { sub(/:$/, "", $1); print i, b, p, $1, $2, $3 }
		/^# peak-rss-kib: [0-9]+$/ { print i, b, p, $3 >> r }
	' <<<"$out" >>"$results"
}

for p in $procs; do
	for b in "${benches[@]}"; do
		impls=()
		[[ -z ${weft_bin[$b]} ]] || impls+=(weft)
		[[ -z ${go_bin[$b]} ]] || impls+=(go)
		[[ ${#impls[@]} -gt 0 ]] || continue
		echo "running $b procs=$p: ${impls[*]} x (1 + $runs)" >&2
		for ((r = 0; r <= runs; r++)); do
			for impl in "${impls[@]}"; do
				run_one "$impl" "$b" "$p" $((r > 0))
			done
		done
	done
done

# stats FILE COL KEY...: "median min max count" of column COL over the lines
# whose first fields equal KEY...; nothing if there are none.
stats() {
	local file=$1 col=$2
	shift 2
	awk -v col="$col" -v key="$*" '{
		k = $1; for (f = 2; f < col; f++) k = k " " $f
		if (k == key) print $col
	}' "$file" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) exit
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.10g %.10g %.10g %d\n", m, v[1], v[NR], NR
		}'
}

# cell MEDIAN MIN MAX COUNT: "median (min-max)", with the count if short.
cell() {
	if [[ $# -eq 0 ]]; then echo "-"; return; fi
	local c
	c=$(awk -v m="$1" -v lo="$2" -v hi="$3" 'BEGIN { printf "%.1f (%.1f-%.1f)", m, lo, hi }')
	[[ $4 == "$runs" ]] || c="$c [$4 runs]"
	echo "$c"
}

ratio() {
	if [[ -z $1 || -z $2 ]]; then echo "-"; return; fi
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

echo
echo "| bench | procs | unit | weft median (min-max) | Go median (min-max) | weft/Go |"
echo "|---|---|---|---|---|---|"
for b in "${benches[@]}"; do
	for p in $procs; do
		# Measurement names of this program, in the order they were printed
		# (the parser admits only [A-Za-z0-9_.-], so word splitting is safe).
		# shellcheck disable=SC2013
		for name in $(awk -v b="$b" -v p="$p" '$2 == b && $3 == p && !seen[$4]++ { print $4 }' "$results"); do
			read -r -a w <<<"$(stats "$results" 5 weft "$b" "$p" "$name")"
			read -r -a g <<<"$(stats "$results" 5 go "$b" "$p" "$name")"
			unit=$(awk -v b="$b" -v n="$name" '$2 == b && $4 == n { print $6; exit }' "$results")
			echo "| $name | $p | $unit | $(cell ${w[@]+"${w[@]}"}) | $(cell ${g[@]+"${g[@]}"}) | $(ratio "${w[0]:-}" "${g[0]:-}") |"
		done
	done
done

if [[ -s $rss ]]; then
	echo
	echo "| bench | procs | weft peak RSS median KiB | Go peak RSS median KiB | weft/Go |"
	echo "|---|---|---|---|---|"
	for b in "${benches[@]}"; do
		for p in $procs; do
			read -r -a w <<<"$(stats "$rss" 4 weft "$b" "$p")"
			read -r -a g <<<"$(stats "$rss" 4 go "$b" "$p")"
			[[ ${#w[@]} -gt 0 || ${#g[@]} -gt 0 ]] || continue
			echo "| $b | $p | ${w[0]:--} | ${g[0]:--} | $(ratio "${w[0]:-}" "${g[0]:-}") |"
		done
	done
fi
