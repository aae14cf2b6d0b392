#!/bin/sh
# tests/install.sh BUILDDIR - what `make install` gives a user, checked on
# a staged install (make install DESTDIR=...; .ci/run calls it after the
# suite, on the tree ./dev check built):
#   - the header, the library, weft.pc, weft-trace and its man page, and
#     every file of weft-trace view's page are installed;
#   - a program that knows weft only through pkg-config (weft.pc, with the
#     prefix moved to the staged copy) builds against the installed header
#     and library, runs, and writes a trace (WEFT_TRACE);
#   - the installed weft-trace reads it, and `weft-trace view` serves the
#     page from the installed copy (it looks beside its binary first, so a
#     staged or relocated install serves its own files: the test fails if
#     it fell back to the source tree), the same bytes as installed;
#   - with Node and Chromium present, the page's own checks (drive.mjs)
#     pass against that installed server.
# It removes only the directory it made.
set -eu
B=$(cd "${1:-.}" && pwd)
S=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/weft-install.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2> /dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() {
	echo "install: FAIL: $*" >&2
	exit 1
}

prefix=$(sed -n 's/^prefix = //p' "$B/Makefile")
[ -n "$prefix" ] || fail "no prefix in $B/Makefile"
make -s -C "$B" install DESTDIR="$T/stage" > "$T/install.log" 2>&1 ||
	{ cat "$T/install.log"; fail "make install DESTDIR=$T/stage"; }
P="$T/stage$prefix"
for f in include/weft.h include/weft/trace.h lib/pkgconfig/weft.pc bin/weft-trace \
	share/man/man1/weft-trace.1; do
	[ -e "$P/$f" ] || fail "$prefix/$f is not installed"
done
ls "$P"/lib/libweft.so* > /dev/null 2>&1 || fail "libweft.so is not installed"
# Every file of the page (tracer/view/, not its dev/ tools) is installed as it is.
for f in "$S"/tracer/view/*; do
	[ -f "$f" ] || continue
	cmp -s "$f" "$P/share/weft/view/$(basename "$f")" ||
		fail "tracer/view/$(basename "$f") is not installed as it is (share/weft/view)"
done

# A program that knows weft only through pkg-config.
cat > "$T/hello.c" << 'EOF'
#include <stdio.h>
#include <weft.h>

static weft_chan *ch;
static weft_wg wg = WEFT_WG_INIT;

static void worker(void *arg)
{
	long v = (long)arg;
	weft_chan_send(ch, &v);
	weft_wg_done(&wg);
}

static void run(void *arg)
{
	long sum = 0, v;
	(void)arg;
	ch = weft_chan_make(sizeof(long), 0);
	for (long i = 1; i <= 100; i++) {
		weft_wg_add(&wg, 1);
		weft_go(worker, (void *)i);
	}
	for (int i = 0; i < 100; i++) {
		weft_chan_recv(ch, &v);
		sum += v;
	}
	weft_wg_wait(&wg);
	weft_chan_free(ch);
	printf("sum=%ld\n", sum);
}

int main(void)
{
	return weft_main(run, NULL) == 0 ? 0 : 1;
}
EOF
PC="pkg-config --define-variable=prefix=$P"
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
# shellcheck disable=SC2046
${CC:-cc} -std=gnu11 -o "$T/hello" "$T/hello.c" $($PC --cflags weft) $($PC --libs weft) ||
	fail "a program does not build with pkg-config --cflags --libs weft"
export LD_LIBRARY_PATH="$P/lib"
out=$(WEFT_TRACE="$T/hello.wt" "$T/hello") || fail "the program built on the install exits $?"
[ "$out" = "sum=5050" ] || fail "the program printed '$out', not sum=5050"
"$P/bin/weft-trace" stats "$T/hello.wt" > "$T/stats.out" || fail "installed weft-trace stats"
grep -q 'tasks' "$T/stats.out" || fail "weft-trace stats printed no tasks: $(cat "$T/stats.out")"

# weft-trace view, with nothing pointing it at the source tree.
unset WEFT_VIEW_DIR
if ! "$P/bin/weft-trace" help view > /dev/null 2>&1; then
	echo "install: weft-trace built without http-parser: no view to check"
	echo "install: ok (without the view)"
	exit 0
fi
mkfifo "$T/fifo"
"$P/bin/weft-trace" view "$T/hello.wt" > "$T/fifo" 2> "$T/view.err" &
pid=$!
IFS= read -r line < "$T/fifo" || line=
url=$(echo "$line" | sed -n 's/.*serving \(http:[^ ]*\).*/\1/p')
[ -n "$url" ] || fail "the installed weft-trace view printed no URL: $line $(cat "$T/view.err")"
grep -q "the page's files from $P/bin/../share/weft/view" "$T/view.err" ||
	fail "the installed view does not serve the installed page: $(cat "$T/view.err")"
python3 - "$url" "$P/share/weft/view" << 'EOF' || fail "the installed page is not what is served"
import json, sys, urllib.request
url, d = sys.argv[1], sys.argv[2]
def get(p):
    with urllib.request.urlopen(url + p, timeout=30) as r:
        return r.read()
meta_raw = get("api/meta")
for name in ("index.html", "main.js", "view.css"):
    got = get("" if name == "index.html" else name)
    want = open(f"{d}/{name}", "rb").read()
    if name == "index.html":
        # Served with /api/meta's answer in place of its marker (cmd_view.c
        # serve_page; '<' written \u003c).
        if want.count(b"<!--weft:meta-->") != 1:
            sys.exit(f"the installed {d}/index.html has no weft:meta marker")
        inl = meta_raw.replace(b"<", b"\\u003c")
        want = want.replace(b"<!--weft:meta-->",
                            b'<script type="application/json" id="weft-meta">' + inl + b"</script>")
    if got != want:
        sys.exit(f"/{name} differs from the installed {d}/{name}")
meta = json.loads(meta_raw)
if meta["tasks"] < 101 or meta["procs"] < 1:
    sys.exit(f"/api/meta: {meta}")
print(f"install: view serves the installed page; {meta['tasks']} tasks, {meta['procs']} Ps")
EOF
if command -v node > /dev/null 2>&1 && command -v chromium > /dev/null 2>&1; then
	TMPDIR="$T" timeout 300 node --experimental-websocket "$S/tracer/view/dev/drive.mjs" \
		"$url" --no-timing > "$T/drive.out" 2>&1 ||
		{ cat "$T/drive.out"; fail "the page's checks fail on the installed view"; }
	tail -n 3 "$T/drive.out"
fi
kill -TERM "$pid"
wait "$pid" || fail "the installed view exited $? on SIGTERM"
pid=
echo "install: ok"
