#!/usr/bin/env bash
# bench/run.sh - run the weft benchmarks beside their Go twins and print
# markdown tables of medians.
#
# Usage: bench/run.sh [-r RUNS] [-p "1 2"] [-t] [-l LABEL:NAME] [-T TITLE] BENCH...
#
# BENCH is a program (spawn, yield, chan, mandelbrot), or "LABEL=PROGRAM
# ARG..." for a program run with arguments of its own under a label of its
# own, e.g. "px=mandelbrot -mode px" (LABEL and PROGRAM: [A-Za-z0-9_-]; the
# arguments are split at blanks, so none can be empty: mandelbrot's "-o -"
# writes no PNG).
#
# For each procs value P and each BENCH, the weft binary (PROGRAM in
# $WEFT_BENCH_DIR, default: this script's directory, else in
# $WEFT_EXAMPLES_DIR, default: $WEFT_BENCH_DIR/../examples, where mandelbrot
# is) runs with WEFT_PROCS=P and the Go program
# (built once from bench/go/PROGRAM) with GOMAXPROCS=P, alternately: one
# warm-up run of each, discarded, then RUNS counted runs of each (weft, Go,
# weft, Go, ...), so that drift of the machine (frequency, neighbours) hits
# both alike. Every "<name>: <value> ns/op" or "<name>: <value> ms" line and
# "# peak-rss-kib: X" line is kept; the table says which unit.
#
# -t  Traced runs join the alternation (weft, weft+trace, Go, Go+trace, ...):
#     weft with WEFT_TRACE=FILE (any weft program), Go with -trace FILE
#     (runtime/trace). The table gains their medians and the trace overhead
#     (traced / untraced - 1). After each counted weft+trace run,
#     $WEFT_BENCH_DIR/trace_events reads the trace: the events per op of each
#     measured section (bench.h marks them), from which a second table gives
#     the tracer's cost per event, (traced - untraced ns/op) / (events/op).
#     Go's trace is not read (go tool trace parses some 0.3 M events/s and
#     needs gigabytes for these runs): for Go that table gives only the time
#     the trace added per op.
# -l LABEL:NAME  The BENCH labelled LABEL (run untraced even with -t) is the
#     sequential reference: each "NAME: X ms" gets a column of its ratio to
#     the limit, X / (the reference's X / P), the reference run at the same P.
#     weft is measured against the reference's weft program, Go against Go's.
# -T TITLE  the table's heading (default "weft vs Go").
#
# A missing weft binary or a missing `go` skips that column with a message.
# BENCH_ARGS (optional) is passed to every binary after a BENCH's own
# arguments, e.g. BENCH_ARGS="-n 100000", or "-w 256 -h 256 -o -" for
# mandelbrot.
set -euo pipefail

usage() {
	echo "usage: $0 [-r RUNS] [-p \"1 2\"] [-t] [-l LABEL:NAME] [-T TITLE] BENCH...   (BENCH: PROGRAM or \"LABEL=PROGRAM ARG...\")" >&2
	exit 2
}

runs=5
procs="1 2"
trace=0
limit=
title="weft vs Go"
while getopts "r:p:tl:T:h" opt; do
	case $opt in
	r) runs=$OPTARG ;;
	p) procs=$OPTARG ;;
	t) trace=1 ;;
	l) limit=$OPTARG ;;
	T) title=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[[ $runs =~ ^[1-9][0-9]*$ ]] || usage
for p in $procs; do [[ $p =~ ^[1-9][0-9]*$ ]] || usage; done
[[ -n ${procs// /} ]] || usage
[[ -z $limit || $limit =~ ^[A-Za-z0-9_-]+:[A-Za-z0-9_.-]+$ ]] || usage
specs=("$@")
[[ ${#specs[@]} -gt 0 ]] || specs=(spawn yield)

# The cells: label, program, own arguments.
declare -A cell_prog cell_args
labels=()
for s in "${specs[@]}"; do
	if [[ $s =~ ^([A-Za-z0-9_-]+)=([A-Za-z0-9_-]+)(\ +(.*))?$ ]]; then
		label=${BASH_REMATCH[1]}
		cell_prog[$label]=${BASH_REMATCH[2]}
		cell_args[$label]=${BASH_REMATCH[4]}
	elif [[ $s =~ ^[A-Za-z0-9_-]+$ ]]; then
		label=$s
		cell_prog[$label]=$s
		cell_args[$label]=
	else
		usage
	fi
	labels+=("$label")
done
limit_label=${limit%%:*}
limit_name=${limit#*:}
if [[ -n $limit && -z ${cell_prog[$limit_label]+set} ]]; then
	echo "$0: -l $limit: no BENCH labelled $limit_label" >&2
	exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
weft_dir=${WEFT_BENCH_DIR:-$here}
examples_dir=${WEFT_EXAMPLES_DIR:-$weft_dir/../examples}
read -r -a bench_args <<<"${BENCH_ARGS:-}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results # impl label procs name value unit
rss=$tmp/rss         # impl label procs kib
events=$tmp/events   # label procs name events/op (weft+trace runs)
: >"$results"
: >"$rss"
: >"$events"

model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
echo "# $title"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(nproc) CPUs, ${model:-unknown model}, $(uname -sr)"

# Build the Go programs once; an empty go_bin[prog] means no Go column for it.
declare -A go_bin weft_bin
have_go=0
if command -v go >/dev/null 2>&1; then
	have_go=1
	echo "- go: $(go version)"
fi
echo "- runs: $runs counted per cell after 1 discarded warm-up, weft and Go alternating"
if [[ $trace == 1 ]]; then
	echo "- traced: weft with WEFT_TRACE=FILE, Go with -trace FILE (runtime/trace), in the same alternation"
fi
[[ ${#bench_args[@]} -eq 0 ]] || echo "- arguments: ${bench_args[*]}"
echo
[[ $have_go == 1 ]] || echo "# go not installed: Go column skipped"
for label in "${labels[@]}"; do
	b=${cell_prog[$label]}
	[[ -z ${weft_bin[$b]+set} ]] || continue
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
	for d in "$weft_dir" "$examples_dir"; do
		if [[ -x $d/$b && ! -d $d/$b ]]; then
			weft_bin[$b]=$d/$b
			break
		fi
	done
	[[ -n ${weft_bin[$b]} ]] ||
		echo "# weft binary $b in neither $weft_dir nor $examples_dir: weft column skipped for $b"
done
trace_events=
if [[ $trace == 1 ]]; then
	if [[ -x $weft_dir/trace_events ]]; then
		trace_events=$weft_dir/trace_events
	else
		echo "# $weft_dir/trace_events not found: no tracer cost per event"
	fi
fi

# run_one IMPL LABEL PROCS KEEP: run once; append the parsed lines if KEEP=1.
run_one() {
	local impl=$1 label=$2 p=$3 keep=$4 b=${cell_prog[$2]} out rc=0
	local -a args
	read -r -a args <<<"${cell_args[$label]}"
	args+=(${bench_args[@]+"${bench_args[@]}"})
	rm -f "$tmp/trace"
	case $impl in
	weft)
		out=$(WEFT_PROCS=$p "${weft_bin[$b]}" ${args[@]+"${args[@]}"} 2>"$tmp/stderr") || rc=$? ;;
	weft+trace)
		out=$(WEFT_PROCS=$p WEFT_TRACE=$tmp/trace "${weft_bin[$b]}" ${args[@]+"${args[@]}"} \
			2>"$tmp/stderr") || rc=$? ;;
	go)
		out=$(GOMAXPROCS=$p "${go_bin[$b]}" ${args[@]+"${args[@]}"} 2>"$tmp/stderr") || rc=$? ;;
	go+trace)
		out=$(GOMAXPROCS=$p "${go_bin[$b]}" ${args[@]+"${args[@]}"} -trace "$tmp/trace" \
			2>"$tmp/stderr") || rc=$? ;;
	esac
	if [[ $rc != 0 ]]; then
		echo "# $impl $label procs=$p failed (exit $rc): $(head -c 300 "$tmp/stderr" | tr '\n' ' ')"
		return 0
	fi
	[[ $keep == 1 ]] || return 0
	awk -v i="$impl" -v b="$label" -v p="$p" -v r="$rss" '
		/^[A-Za-z0-9_.-]+: [0-9.eE+-]+ (ns\/op|ms)$/ { sub(/:$/, "", $1); print i, b, p, $1, $2, $3 }
		/^# peak-rss-kib: [0-9]+$/ { print i, b, p, $3 >> r }
	' <<<"$out" >>"$results"
	if [[ $impl == weft+trace && -n $trace_events ]]; then
		rc=0
		out=$("$trace_events" "$tmp/trace" 2>"$tmp/stderr") || rc=$?
		if [[ $rc != 0 ]]; then
			echo "# trace_events on the trace of $label procs=$p failed (exit $rc): $(head -c 300 "$tmp/stderr" | tr '\n' ' ')"
			return 0
		fi
		awk -v b="$label" -v p="$p" '
			/^[A-Za-z0-9_.-]+: [0-9.eE+-]+ events\/op$/ { sub(/:$/, "", $1); print b, p, $1, $2 }
		' <<<"$out" >>"$events"
	fi
}

start=$SECONDS
for p in $procs; do
	for label in "${labels[@]}"; do
		b=${cell_prog[$label]}
		impls=()
		if [[ -n ${weft_bin[$b]} ]]; then
			impls+=(weft)
			[[ $trace == 0 || $label == "$limit_label" ]] || impls+=(weft+trace)
		fi
		if [[ -n ${go_bin[$b]} ]]; then
			impls+=(go)
			[[ $trace == 0 || $label == "$limit_label" ]] || impls+=(go+trace)
		fi
		[[ ${#impls[@]} -gt 0 ]] || continue
		t0=$SECONDS
		echo "running $label procs=$p: ${impls[*]} x (1 + $runs)" >&2
		for ((r = 0; r <= runs; r++)); do
			for impl in "${impls[@]}"; do
				run_one "$impl" "$label" "$p" $((r > 0))
			done
		done
		echo "  $((SECONDS - t0)) s (all so far: $((SECONDS - start)) s)" >&2
	done
done
rm -f "$tmp/trace"

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

# overhead TRACED UNTRACED: "+12.3%".
overhead() {
	if [[ -z $1 || -z $2 ]]; then echo "-"; return; fi
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.1f%%", (a / b - 1) * 100; else print "-" }'
}

# minus A B: A - B, or "-".
minus() {
	if [[ -z $1 || -z $2 ]]; then echo "-"; return; fi
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'
}

# limit_ratio VALUE REFERENCE PROCS: VALUE / (REFERENCE / PROCS).
limit_ratio() {
	if [[ -z $1 || -z $2 ]]; then echo "-"; return; fi
	awk -v a="$1" -v r="$2" -v p="$3" 'BEGIN { if (r > 0) printf "%.2f", a / (r / p); else print "-" }'
}

# The row's name: the measurement's, after the label if that is not the program's.
row_name() {
	if [[ $1 == "${cell_prog[$1]}" ]]; then echo "$2"; else echo "$1 $2"; fi
}

echo
head="| bench | procs | unit | weft median (min-max) |"
rule="|---|---|---|---|"
if [[ $trace == 1 ]]; then
	head="$head weft+trace median (min-max) | trace overhead |"
	rule="$rule---|---|"
fi
head="$head Go median (min-max) |"
rule="$rule---|"
if [[ $trace == 1 ]]; then
	head="$head Go+trace median (min-max) | trace overhead |"
	rule="$rule---|---|"
fi
head="$head weft/Go |"
rule="$rule---|"
if [[ -n $limit ]]; then
	head="$head weft/limit | Go/limit |"
	rule="$rule---|---|"
fi
echo "$head"
echo "$rule"
for label in "${labels[@]}"; do
	for p in $procs; do
		# Measurement names of this cell, in the order they were printed
		# (the parser admits only [A-Za-z0-9_.-], so word splitting is safe).
		# shellcheck disable=SC2013
		for name in $(awk -v b="$label" -v p="$p" '$2 == b && $3 == p && !seen[$4]++ { print $4 }' "$results"); do
			read -r -a w <<<"$(stats "$results" 5 weft "$label" "$p" "$name")"
			read -r -a g <<<"$(stats "$results" 5 go "$label" "$p" "$name")"
			unit=$(awk -v b="$label" -v n="$name" '$2 == b && $4 == n { print $6; exit }' "$results")
			row="| $(row_name "$label" "$name") | $p | $unit | $(cell ${w[@]+"${w[@]}"}) |"
			if [[ $trace == 1 ]]; then
				read -r -a wt <<<"$(stats "$results" 5 weft+trace "$label" "$p" "$name")"
				row="$row $(cell ${wt[@]+"${wt[@]}"}) | $(overhead "${wt[0]:-}" "${w[0]:-}") |"
			fi
			row="$row $(cell ${g[@]+"${g[@]}"}) |"
			if [[ $trace == 1 ]]; then
				read -r -a gt <<<"$(stats "$results" 5 go+trace "$label" "$p" "$name")"
				row="$row $(cell ${gt[@]+"${gt[@]}"}) | $(overhead "${gt[0]:-}" "${g[0]:-}") |"
			fi
			row="$row $(ratio "${w[0]:-}" "${g[0]:-}") |"
			if [[ -n $limit ]]; then
				if [[ $label == "$limit_label" ]]; then
					row="$row (reference) | (reference) |"
				elif [[ $name == "$limit_name" && $unit == ms ]]; then
					read -r -a wr <<<"$(stats "$results" 5 weft "$limit_label" "$p" "$name")"
					read -r -a gr <<<"$(stats "$results" 5 go "$limit_label" "$p" "$name")"
					row="$row $(limit_ratio "${w[0]:-}" "${wr[0]:-}" "$p") | $(limit_ratio "${g[0]:-}" "${gr[0]:-}" "$p") |"
				else
					row="$row - | - |"
				fi
			fi
			echo "$row"
		done
	done
done
if [[ -n $limit ]]; then
	echo
	echo "Limit: $limit_label's $limit_name / P at the same P (weft: its weft program; Go: its Go program); 1.00 is a perfect P-fold speedup of the sequential code."
fi

if [[ -s $events ]]; then
	echo
	echo "Tracer cost per event: (traced - untraced median ns/op) / (median events/op);"
	echo "weft's events are counted in the trace of each counted weft+trace run (bench/trace_events)."
	echo "Go's are not counted: its column is only the added time per op."
	echo
	echo "| bench | procs | weft events/op | weft added ns/op | weft tracer cost ns/event | Go added ns/op (events not counted) |"
	echo "|---|---|---|---|---|---|"
	for label in "${labels[@]}"; do
		for p in $procs; do
			# shellcheck disable=SC2013
			for name in $(awk -v b="$label" -v p="$p" '$1 == b && $2 == p && !seen[$3]++ { print $3 }' "$events"); do
				read -r -a e <<<"$(stats "$events" 4 "$label" "$p" "$name")"
				read -r -a w <<<"$(stats "$results" 5 weft "$label" "$p" "$name")"
				read -r -a wt <<<"$(stats "$results" 5 weft+trace "$label" "$p" "$name")"
				read -r -a g <<<"$(stats "$results" 5 go "$label" "$p" "$name")"
				read -r -a gt <<<"$(stats "$results" 5 go+trace "$label" "$p" "$name")"
				wd=$(minus "${wt[0]:-}" "${w[0]:-}")
				# Fewer than one event in two ops: the difference is noise.
				per=$(awk -v d="$wd" -v e="${e[0]}" 'BEGIN {
					if (d != "-" && e >= 0.5) printf "%.1f", d / e; else print "-" }')
				printf "| %s | %s | %.3f | %s | %s | %s |\n" "$(row_name "$label" "$name")" "$p" \
					"${e[0]}" "$wd" "$per" "$(minus "${gt[0]:-}" "${g[0]:-}")"
			done
		done
	done
fi

if [[ -s $rss ]]; then
	echo
	if [[ $trace == 1 ]]; then
		echo "| bench | procs | weft peak RSS median KiB | weft+trace | Go peak RSS median KiB | Go+trace | weft/Go |"
		echo "|---|---|---|---|---|---|---|"
	else
		echo "| bench | procs | weft peak RSS median KiB | Go peak RSS median KiB | weft/Go |"
		echo "|---|---|---|---|---|"
	fi
	for label in "${labels[@]}"; do
		for p in $procs; do
			read -r -a w <<<"$(stats "$rss" 4 weft "$label" "$p")"
			read -r -a wt <<<"$(stats "$rss" 4 weft+trace "$label" "$p")"
			read -r -a g <<<"$(stats "$rss" 4 go "$label" "$p")"
			read -r -a gt <<<"$(stats "$rss" 4 go+trace "$label" "$p")"
			[[ ${#w[@]} -gt 0 || ${#g[@]} -gt 0 ]] || continue
			if [[ $trace == 1 ]]; then
				echo "| $label | $p | ${w[0]:--} | ${wt[0]:--} | ${g[0]:--} | ${gt[0]:--} | $(ratio "${w[0]:-}" "${g[0]:-}") |"
			else
				echo "| $label | $p | ${w[0]:--} | ${g[0]:--} | $(ratio "${w[0]:-}" "${g[0]:-}") |"
			fi
		done
	done
fi
