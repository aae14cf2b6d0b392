#!/bin/sh
# mandelbrot-smoke.sh - make check: examples/mandelbrot paints the workshop's
# picture in every mode, at 1 and 2 Ps.
#
# Every mode's checksum must equal seq's and the Go program's for the same
# size (the constants below come from `go run ./bench/go/mandelbrot -h H -w W`,
# which is pixel-identical to the workshop's program); 48x80 and 80x48 differ,
# so swapping the roles of -h and -w is caught. Also: the PNG is h wide and
# w tall, -o '' writes none, -trace writes a weft trace, bad flags exit 2.
# A build without libpng must refuse -o FILE (status 1, naming libpng) and
# write no mandelbrot.png by default; which build this is, the program tells
# (MANDELBROT_PNG=yes or no, from make check, must agree).
# MANDELBROT names the binary (default ./examples/mandelbrot).
set -eu
bin=${MANDELBROT:-./examples/mandelbrot}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# sum PROCS ARGS...: run the program, print its checksum; if it fails, say
# so on stderr and print nothing (the caller's comparison then fails).
sum() {
	procs=$1
	shift
	st=0
	WEFT_PROCS=$procs "$bin" "$@" >"$tmp/out" 2>"$tmp/err" || st=$?
	if [ $st != 0 ]; then
		echo "WEFT_PROCS=$procs $bin $*: exit status $st: $(head -c 300 "$tmp/err")" >&2
		return 0
	fi
	sed -n 's/^checksum: \([0-9][0-9]*\)$/\1/p' "$tmp/out"
}

# Sizes "H W SUM" (SUM from the Go program).
for case in "64 64 537872" "48 80 424251" "80 48 594040"; do
	# shellcheck disable=SC2086 # split "H W SUM"
	set -- $case
	h=$1 w=$2 want=$3
	for procs in 1 2; do
		seq=$(sum $procs -mode seq -h "$h" -w "$w" -o '')
		[ "$seq" = "$want" ] || fail "${h}x$w seq at $procs P: checksum '$seq', want $want"
		for m in "px" "row" "workers -workers 1" "workers -workers 2" "workers -workers 4" \
			"buffered -workers 1" "buffered -workers 3" "plain"; do
			# shellcheck disable=SC2086 # $m is the mode and its flags
			got=$(sum $procs -h "$h" -w "$w" -o '' -mode $m)
			[ "$got" = "$seq" ] || fail "${h}x$w -mode $m at $procs P: checksum '$got', seq says '$seq'"
		done
	done
done

# A size that reaches into the set (the period-2 bulb): pixels that run
# the whole 1000 iterations.
got=$(sum 2 -mode row -h 300 -w 420 -o '')
[ "$got" = 3584172 ] || fail "300x420 row: checksum '$got', want 3584172"

# PNG output or not (libpng is optional to the build).
st=0
WEFT_PROCS=1 "$bin" -h 8 -w 8 -o "$tmp/probe.png" >/dev/null 2>"$tmp/err" || st=$?
if [ $st = 0 ]; then
	png=yes
elif [ $st = 1 ] && grep -q 'without libpng' "$tmp/err"; then
	png=no
else
	png=
	fail "-o $tmp/probe.png: exit status $st: $(head -c 300 "$tmp/err")"
fi
[ -z "${MANDELBROT_PNG:-}" ] || [ "$png" = "$MANDELBROT_PNG" ] ||
	fail "PNG output: '$png', but configure says libpng: '$MANDELBROT_PNG'"

if [ "$png" = yes ]; then
	# The PNG: signature, then IHDR width = h and height = w (big-endian).
	sum 2 -mode buffered -workers 2 -h 48 -w 80 -o "$tmp/m.png" >/dev/null
	if [ -s "$tmp/m.png" ]; then
		sig=$(od -An -tx1 -N8 "$tmp/m.png" | tr -d ' \n')
		[ "$sig" = 89504e470d0a1a0a ] || fail "PNG signature $sig"
		dims=$(od -An -tu1 -j16 -N8 "$tmp/m.png" | tr -s ' \n' ' ')
		[ "$dims" = " 0 0 0 48 0 0 0 80 " ] || fail "PNG size bytes '$dims', want 48 wide, 80 tall"
		grep -q '^encode: [0-9.]* ms$' "$tmp/out" || fail "no encode line with -o FILE"
	else
		fail "-o $tmp/m.png wrote no PNG"
	fi
	out_png=$tmp/t.png
elif [ "$png" = no ]; then
	# No PNG: -o FILE was refused above, before anything was written; the
	# default writes none, says so, and computes.
	[ ! -e "$tmp/probe.png" ] || fail "a build without libpng wrote $tmp/probe.png"
	got=$( (cd "$tmp" && WEFT_PROCS=1 "$bin" -h 64 -w 64 2>err3) |
		sed -n 's/^checksum: \([0-9][0-9]*\)$/\1/p')
	[ "$got" = 537872 ] || fail "no -o, no libpng: checksum '$got', want 537872"
	[ ! -e "$tmp/mandelbrot.png" ] || fail "no -o, no libpng: wrote mandelbrot.png"
	grep -q 'without libpng' "$tmp/err3" || fail "no -o, no libpng: no note on stderr"
	out_png=
fi
( cd "$tmp" && WEFT_PROCS=1 "$bin" -h 8 -w 8 -o '' >out2 && WEFT_PROCS=1 "$bin" -h 8 -w 8 -o - >>out2 ) ||
	fail "-o '' / -o - failed"
[ ! -e "$tmp/mandelbrot.png" ] || fail "-o '' or -o - wrote mandelbrot.png"
! grep -q '^encode:' "$tmp/out2" || fail "-o '' printed an encode line"

# -trace: a weft trace (magic WEFTTRC) of the whole run, and the same picture.
got=$(sum 2 -mode workers -workers 2 -h 64 -w 64 -o "${out_png:-}" -trace "$tmp/t.trace")
[ "$got" = 537872 ] || fail "-trace run: checksum '$got', want 537872"
if [ -s "$tmp/t.trace" ]; then
	[ "$(head -c 7 "$tmp/t.trace")" = WEFTTRC ] || fail "-trace file does not start with WEFTTRC"
else
	fail "-trace wrote no trace"
fi

# Bad flags are refused with status 2.
for bad in "-mode nope" "-h 0" "-w 32769" "-workers 0" "-mode plain -trace $tmp/x" "-o" "stray"; do
	st=0
	# shellcheck disable=SC2086
	"$bin" $bad >/dev/null 2>&1 || st=$?
	[ $st = 2 ] || fail "'$bin $bad' exited $st, want 2"
done

if [ $failures -ne 0 ]; then
	echo "mandelbrot-smoke: $failures failure(s)"
	exit 1
fi
echo "mandelbrot-smoke: ok"
