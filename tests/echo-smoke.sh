#!/bin/sh
# echo-smoke.sh - make check: examples/echo, the README's second example,
# echoes. It runs on port 0 and prints the address it got, which this test
# reads (through a FIFO, so nothing here waits by sleeping); a Python
# client then opens 20 connections at once, each sending 40 messages of
# 1 byte to 1 MiB while a thread of its own reads, and checks every byte
# back, in order, then end of file once it shut down its side. Also: an
# address in use exits 1 naming the error, and the README shows the code
# of examples/echo.c as it is (the lines between its markers).
# WEFT_ECHO names the binary (default ./examples/echo).
set -eu
bin=${WEFT_ECHO:-./examples/echo}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
srcdir=${WEFT_SRCDIR:-$(dirname "$0")/..}
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

for procs in 1 2; do
	mkfifo "$tmp/out"
	WEFT_PROCS=$procs "$bin" 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	exec 3<"$tmp/out"
	line=
	read -r line <&3 || true
	addr=${line#listening on }
	case $line in
	"listening on 127.0.0.1:"[0-9]*) ;;
	*)
		fail "at $procs P: the first line is '$line', stderr: $(head -c 300 "$tmp/err")"
		exec 3<&-
		rm -f "$tmp/out"
		continue
		;;
	esac
	python3 - "$addr" <<'PY' || fail "at $procs P: the echo of $addr (above)"
import random, socket, sys, threading

host, port = sys.argv[1].rsplit(":", 1)
errors = []

def conn(i):
    rnd = random.Random(i)
    sizes = [rnd.choice([1, 2, 100, 1000, 4095, 4096, 4097, 65536, 300000, 1 << 20])
             for _ in range(40)]
    data = rnd.randbytes(sum(sizes))
    try:
        s = socket.create_connection((host, int(port)), timeout=120)
    except OSError as e:
        errors.append("connection %d: %s" % (i, e))
        return

    def send():
        off = 0
        for n in sizes:
            s.sendall(data[off:off + n])
            off += n
        s.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send)
    t.start()
    got = bytearray()
    try:
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            got += b
    except OSError as e:
        errors.append("connection %d: %s after %d bytes" % (i, e, len(got)))
    t.join()
    s.close()
    if bytes(got) != data:
        k = next((j for j in range(min(len(got), len(data))) if got[j] != data[j]),
                 min(len(got), len(data)))
        errors.append("connection %d: %d bytes back of %d, first difference at %d"
                      % (i, len(got), len(data), k))

threads = [threading.Thread(target=conn, args=(i,)) for i in range(20)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
	# A second server on the same address: exit status 1, the error named.
	st=0
	"$bin" "$addr" >/dev/null 2>"$tmp/err2" || st=$?
	[ $st = 1 ] || fail "a second echo on $addr: exit status $st, want 1"
	grep -q "echo: $addr: .*in use" "$tmp/err2" || fail "a second echo on $addr said: $(head -c 300 "$tmp/err2")"
	kill "$pid"
	wait "$pid" || true
	pid=
	exec 3<&-
	rm -f "$tmp/out"
done

# The README's second example is examples/echo.c, word for word.
sed -n '/^\/\* README begin \*\/$/,/^\/\* README end \*\/$/p' "$srcdir/examples/echo.c" |
	sed '1d;$d' >"$tmp/example.c"
awk '/^```c$/ { n++; if (n == 2) { on = 1; next } } on && /^```$/ { exit } on' "$srcdir/README.md" \
	>"$tmp/readme.c"
cmp -s "$tmp/example.c" "$tmp/readme.c" ||
	fail "README.md's second example differs from examples/echo.c: $(diff "$tmp/readme.c" "$tmp/example.c" | head -20)"

if [ $failures -ne 0 ]; then
	echo "echo-smoke: $failures failure(s)"
	exit 1
fi
echo "echo-smoke: ok"
