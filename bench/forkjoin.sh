#!/usr/bin/env bash
# bench/forkjoin.sh - nested fork-join (fib(N), a task per call, a join per
# parent) in weft, Go and oneTBB, alternated, and a markdown table of
# medians: issue 20's target is weft faster at 2 Ps than at 1 and within
# 2x of TBB's task_group at the same thread count.
#
# Usage: bench/forkjoin.sh [-r RUNS] [-p "1 2"] [-n N]
#
# For each P: one discarded warm-up of each, then RUNS counted rounds of
# weft (WEFT_PROCS=P, $WEFT_BENCH_DIR/fib), Go (GOMAXPROCS=P, bench/go/fib
# built here) and TBB (TBB_THREADS=P, bench/tbb/fib.cc compiled here with
# the system's C++ compiler and -ltbb: Debian's libtbb-dev, in ./dev's
# BENCH_PACKAGES). A contender that is missing (no go, no TBB headers) is
# left out with a message. Each cell: median (min-max) of "fib-total: X ms".
set -euo pipefail

usage() {
	echo "usage: $0 [-r RUNS] [-p \"1 2\"] [-n N]" >&2
	exit 2
}
runs=5 procs="1 2" n=30
while getopts "r:p:n:h" opt; do
	case $opt in
	r) runs=$OPTARG ;;
	p) procs=$OPTARG ;;
	n) n=$OPTARG ;;
	*) usage ;;
	esac
done
[[ $runs =~ ^[1-9][0-9]*$ && $n =~ ^[1-9][0-9]*$ ]] || usage
here=$(cd "$(dirname "$0")" && pwd)
weft_dir=${WEFT_BENCH_DIR:-$here}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A bin
impls=()
if [[ -x $weft_dir/fib ]]; then
	bin[weft]=$weft_dir/fib
	impls+=(weft)
else
	echo "# no $weft_dir/fib (make first): weft left out" >&2
fi
if command -v go >/dev/null 2>&1; then
	(cd "$here/go" && go build -o "$tmp/go-fib" ./fib)
	bin[go]=$tmp/go-fib
	impls+=(go)
else
	echo "# no go: Go left out" >&2
fi
cxx=${CXX:-c++}
if command -v "$cxx" >/dev/null 2>&1 &&
	"$cxx" -std=c++17 -O2 -o "$tmp/tbb-fib" "$here/tbb/fib.cc" -ltbb 2>"$tmp/cxx.err"; then
	bin[tbb]=$tmp/tbb-fib
	impls+=(tbb)
else
	echo "# TBB twin not built (Debian: libtbb-dev, g++; ./dev installs them with the bench packages): TBB left out" >&2
	sed 's/^/#   /' "$tmp/cxx.err" >&2 2>/dev/null || true
fi
[[ ${#impls[@]} -gt 0 ]] || exit 1

run_one() { # IMPL P: print the ms of one run
	local out
	case $1 in
	weft) out=$(WEFT_PROCS=$2 "${bin[weft]}" -n "$n") ;;
	go) out=$(GOMAXPROCS=$2 "${bin[go]}" -n "$n") ;;
	tbb) out=$(TBB_THREADS=$2 "${bin[tbb]}" -n "$n") ;;
	esac
	awk -F': *' '/^fib-total:/ { sub(/ ms$/, "", $2); print $2 }' <<<"$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f (%.0f-%.0f)", m, v[1], v[NR] }'; }

model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
echo "# fork-join: fib($n), a task per call, a join per parent (fib-total, ms)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- machine: $(nproc) CPUs, ${model:-unknown model}, $(uname -sr)"
echo "- runs: $runs counted per cell after 1 discarded warm-up, ${impls[*]} alternating"
echo
header="| P |" rule="|---|"
for i in "${impls[@]}"; do header+=" $i ms |"; rule+="---|"; done
[[ -z ${bin[tbb]:-} || -z ${bin[weft]:-} ]] || { header+=" weft/TBB |"; rule+="---|"; }
[[ -z ${bin[go]:-} || -z ${bin[weft]:-} ]] || { header+=" weft/Go |"; rule+="---|"; }
echo "$header"
echo "$rule"
for p in $procs; do
	for i in "${impls[@]}"; do run_one "$i" "$p" >/dev/null; done
	for ((r = 0; r < runs; r++)); do
		for i in "${impls[@]}"; do run_one "$i" "$p" >>"$tmp/$i.$p"; done
	done
	row="| $p |"
	declare -A med=()
	for i in "${impls[@]}"; do
		row+=" $(median <"$tmp/$i.$p") |"
		med[$i]=$(sort -g "$tmp/$i.$p" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	done
	[[ -z ${med[tbb]:-} || -z ${med[weft]:-} ]] || row+=" $(awk -v a="${med[weft]}" -v b="${med[tbb]}" 'BEGIN { printf "%.2f", a / b }') |"
	[[ -z ${med[go]:-} || -z ${med[weft]:-} ]] || row+=" $(awk -v a="${med[weft]}" -v b="${med[go]}" 'BEGIN { printf "%.2f", a / b }') |"
	echo "$row"
	unset med
done
