#!/usr/bin/env bash
# bench/all.sh - make bench: every benchmark beside its Go twin, untraced and
# traced, as markdown tables on stdout (progress on stderr). bench/run.sh
# does the runs and the tables; this script says which.
#
# Usage: bench/all.sh [primitives] [mandelbrot] [forkjoin] [million]
#        (default: primitives, mandelbrot and forkjoin)
#
#   primitives  bench/spawn, yield and chan, ns/op: spawn + run + exit one
#               at a time (spawn-seq) and a million at once (spawn-burst),
#               yield, unbuffered ping-pong, buffered channel (capacity 1024,
#               one producer, one consumer), select over two channels;
#               weft, weft+trace, Go, Go+trace alternating (run.sh -t), the
#               trace overhead, and the tracer's cost per event.
#   mandelbrot  the workshop's Mandelbrot (examples/mandelbrot), compute
#               only (-o -, no PNG): modes seq, px, row, workers (2 and 4),
#               buffered (2), traced and not, each against the limit:
#               plain's compute / P (plain is the sequential C kernel
#               without the runtime, run untraced at each P; Go's limit is
#               its own plain, which is its seq).
#   forkjoin    fib(30) with a task per call and a join per parent, weft,
#               Go and oneTBB's task_group alternating (bench/forkjoin.sh;
#               TBB when libtbb-dev is installed), untraced.
#   million     bench/million: a million tasks (goroutines) blocked at once on
#               a channel, then released one send each: the time until all
#               started, the total, and peak RSS (about 4 GB each side;
#               bench/million prints RSS and page tables per task too).
#               Untraced; BENCH_N changes the million.
#
# Environment (make bench passes its variables of the same names):
#   BENCH_RUNS      counted runs per cell after one warm-up (default 5)
#   BENCH_PROCS     the Ps, WEFT_PROCS and GOMAXPROCS (default "1 2")
#   BENCH_N         -n of spawn, yield and chan (default: each program's own:
#                   1000000, 5000000, 1000000)
#   BENCH_SIDE      Mandelbrot's -w and -h (default 1024, the workshop's)
#   WEFT_BENCH_DIR  the weft programs and trace_events (default: this directory)
#   WEFT_EXAMPLES_DIR  the built examples/, where mandelbrot is (default:
#                   WEFT_BENCH_DIR/../examples)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=${BENCH_RUNS:-5}
procs=${BENCH_PROCS:-1 2}
side=${BENCH_SIDE:-1024}
n=${BENCH_N:-}

usage() {
	echo "usage: $0 [primitives] [mandelbrot] [forkjoin] [million]   (BENCH_RUNS, BENCH_PROCS, BENCH_N, BENCH_SIDE: see the script)" >&2
	exit 2
}

[[ $runs =~ ^[1-9][0-9]*$ && $side =~ ^[1-9][0-9]*$ && $n =~ ^([1-9][0-9]*)?$ ]] || usage
nprocs=0
for p in $procs; do
	[[ $p =~ ^[1-9][0-9]*$ ]] || usage
	nprocs=$((nprocs + 1))
done
[[ $nprocs -gt 0 ]] || usage
parts=("$@")
[[ ${#parts[@]} -gt 0 ]] || parts=(primitives mandelbrot forkjoin)
for part in "${parts[@]}"; do
	[[ $part == primitives || $part == mandelbrot || $part == forkjoin || $part == million ]] || usage
done

# Seconds of one round (one run of each contender of each cell) at one P,
# at the default sizes, on the 2-vCPU EPYC of bench/RESULTS.md: most of it
# is Go's traced runs (its tracer adds 0.2-6 us per op here).
declare -A round_s=([primitives]=25 [mandelbrot]=35 [forkjoin]=2 [million]=30)
est=0
for part in "${parts[@]}"; do
	est=$((est + round_s[$part] * (runs + 1) * nprocs))
done
sizes="the default sizes"
[[ -z $n && $side == 1024 ]] || sizes="the default sizes (BENCH_N and BENCH_SIDE change it)"
echo "bench: ${parts[*]}, $runs counted runs after 1 warm-up at P = $procs:" \
	"about $(((est + 59) / 60)) min at $sizes" >&2

start=$SECONDS
for part in "${parts[@]}"; do
	case $part in
	primitives)
		BENCH_ARGS=${n:+-n $n} bash "$here/run.sh" -r "$runs" -p "$procs" -t \
			-T "weft vs Go: primitives" spawn yield chan
		;;
	mandelbrot)
		BENCH_ARGS="-w $side -h $side -o -" bash "$here/run.sh" -r "$runs" -p "$procs" -t \
			-l plain:compute -T "weft vs Go: Mandelbrot ($side x $side, compute)" \
			"plain=mandelbrot -mode plain" \
			"seq=mandelbrot -mode seq" \
			"px=mandelbrot -mode px" \
			"row=mandelbrot -mode row" \
			"workers-2=mandelbrot -mode workers -workers 2" \
			"workers-4=mandelbrot -mode workers -workers 4" \
			"buffered-2=mandelbrot -mode buffered -workers 2"
		;;
	forkjoin)
		bash "$here/forkjoin.sh" -r "$runs" -p "$procs"
		;;
	million)
		BENCH_ARGS=${n:+-n $n} bash "$here/run.sh" -r "$runs" -p "$procs" \
			-T "weft vs Go: a million blocked tasks" million
		;;
	esac
	echo
done
echo "bench: done in $(((SECONDS - start + 30) / 60)) min ($((SECONDS - start)) s)" >&2
