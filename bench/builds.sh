#!/usr/bin/env bash
# bench/builds.sh - the primitives of two builds of weft, alternated, for a
# change that must not move them (a refactoring, a new build flag).
#
# Usage: bench/builds.sh [-r RUNS] [-p "1 2"] OLD_BENCH_DIR NEW_BENCH_DIR
#
# Runs OLD's and NEW's bench/spawn, bench/yield and bench/chan (each a
# directory of built programs: a build tree's bench/) at each P, one
# warm-up of each, then RUNS counted runs (default 5) as old, new, old,
# new..., so that drift of a shared machine hits both alike, and prints a
# markdown table of the medians of every "<name>: <value> ns/op" line with
# the change new/old - 1. Not part of make bench: it compares weft with
# itself, not with Go.
set -euo pipefail

runs=5
procs="1 2"
while getopts "r:p:h" opt; do
	case $opt in
	r) runs=$OPTARG ;;
	p) procs=$OPTARG ;;
	*) echo "usage: $0 [-r RUNS] [-p \"1 2\"] OLD_BENCH_DIR NEW_BENCH_DIR" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || { echo "usage: $0 [-r RUNS] [-p \"1 2\"] OLD_BENCH_DIR NEW_BENCH_DIR" >&2; exit 2; }
old=$1 new=$2
for d in "$old" "$new"; do
	for b in spawn yield chan; do
		[ -x "$d/$b" ] || { echo "$0: no $d/$b (build it first)" >&2; exit 1; }
	done
done
out=$(mktemp -d "${TMPDIR:-/tmp}/weft-builds.XXXXXX")
trap 'rm -rf "$out"' EXIT

# run SIDE P PROGRAM: append its ns/op lines to $out/SIDE.P
run() {
	WEFT_PROCS=$2 "$3" 2>/dev/null | sed -n 's/^\([A-Za-z0-9_-]*\): \([0-9.]*\) ns\/op$/\1 \2/p' >> "$out/$1.$2"
}

for p in $procs; do
	for b in spawn yield chan; do
		echo "builds.sh: $b, P=$p" >&2
		WEFT_PROCS=$p "$old/$b" > /dev/null 2>&1 || true
		WEFT_PROCS=$p "$new/$b" > /dev/null 2>&1 || true
		for ((i = 0; i < runs; i++)); do
			run old "$p" "$old/$b"
			run new "$p" "$new/$b"
		done
	done
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "| P | benchmark | old ns/op | new ns/op | change |"
echo "|---|---|---|---|---|"
for p in $procs; do
	for name in $(awk '{ print $1 }' "$out/old.$p" | awk '!seen[$0]++'); do
		o=$(awk -v n="$name" '$1 == n { print $2 }' "$out/old.$p" | median)
		w=$(awk -v n="$name" '$1 == n { print $2 }' "$out/new.$p" | median)
		awk -v p="$p" -v n="$name" -v o="$o" -v w="$w" 'BEGIN {
			printf "| %s | %s | %s | %s | %+.1f%% |\n", p, n, o, w, (w / o - 1) * 100 }'
	done
done
echo
echo "medians of $runs alternated runs each; $(nproc) CPUs, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
