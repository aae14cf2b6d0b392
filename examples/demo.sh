#!/usr/bin/env bash
# examples/demo.sh - the demo: the workshop's Mandelbrot on weft, traced, read
# by weft-trace (`./dev demo`, `make demo`; doc/tour.md walks through it).
#
# Usage: examples/demo.sh [BUILD_DIR]   (default: the source tree, where ./dev builds)
#
# Runs examples/mandelbrot in modes px (a task per pixel), workers (4 workers
# on an unbuffered channel) and buffered (2 workers on a buffered channel)
# at WEFT_PROCS (default 2) with -trace, prints each compute time, the
# `weft-trace gaps` verdict, and exports each trace for Perfetto's UI
# (.pftrace.gz) and for go tool trace (.trace). Files go to $WEFT_DEMO_DIR (default
# BUILD_DIR/demo-out); the PNGs too, unless mandelbrot was built without
# libpng (it says so, and the demo goes on without them).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$top}
out=${WEFT_DEMO_DIR:-$build/demo-out}
procs=${WEFT_PROCS:-2}
mandel=$build/examples/mandelbrot
wt=$build/weft-trace
for f in "$mandel" "$wt"; do
	[[ -x $f ]] || { echo "demo: $f is not built (run ./dev demo or make demo)" >&2; exit 1; }
done
mkdir -p "$out"
png=1
if ! err=$("$mandel" -mode plain -h 1 -w 1 -o "$out/probe.png" 2>&1 >/dev/null); then
	echo "demo: no PNGs: $err" >&2
	png=0
fi
rm -f "$out/probe.png"

echo "The workshop's Mandelbrot (1024x1024) on weft, $procs Ps, traced; files in $out"
for mode in px workers buffered; do
	case $mode in
	workers) args=(-mode workers -workers 4) ;;
	buffered) args=(-mode buffered -workers 2) ;;
	*) args=(-mode "$mode") ;;
	esac
	echo
	echo "== mandelbrot ${args[*]} -trace $out/$mode.wt"
	if [[ $png == 1 ]]; then args+=(-o "$out/$mode.png"); else args+=(-o ''); fi
	WEFT_PROCS=$procs "$mandel" "${args[@]}" -trace "$out/$mode.wt" |
		grep -E '^(compute|checksum):'
	"$wt" stats "$out/$mode.wt" | grep -E '^events +[0-9]'
	"$wt" gaps "$out/$mode.wt" | sed -n '/^verdict/,$p'
	# The whole trace, for Perfetto (17 MB gzip'd for px's 3 million
	# events) and for go tool trace.
	"$wt" export -o "$out/$mode.pftrace.gz" "$out/$mode.wt"
	"$wt" export --format go -o "$out/$mode.trace" "$out/$mode.wt"
done
echo
echo "Look at them: open https://ui.perfetto.dev, \"Open trace file\", and pick"
echo "  $out/px.pftrace.gz  $out/workers.pftrace.gz  $out/buffered.pftrace.gz"
echo "or, with Go installed: go tool trace $out/workers.trace"
echo "'weft-trace tasks', 'weft-trace pprof' and 'weft-trace dump' read the .wt files;"
echo "doc/tour.md explains what each shows."
