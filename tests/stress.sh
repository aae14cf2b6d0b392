#!/bin/sh
# stress.sh - make stress: run the randomized torture for STRESS_SECONDS
# (default 120), one seed after another; a failure prints its seed and the
# command that replays it. Then the signal-storm tier: producers and
# consumers (stress -m pc) under SIGALRM every 50-200 us, at 1, 2 and 8 Ps,
# traced and not, STORM_ROUNDS rounds each (default 3): no value lost or
# received twice, no false deadlock report, and every trace readable with
# no anomaly (weft-trace stats; WEFT_TRACE_BIN, default ./weft-trace).
# Then the netpoller tier (stress -m net): echo clients and servers with
# random deadlines, weft_close under waiters, refused dials, at 1, 2 and 8
# Ps, NET_ROUNDS rounds each (default 3) under the same signal storm, then
# as many traced (without it), each trace checked as above.
# Then the many-Ps tier (doc/scaling.md): the tree, pc under the storm and
# net at 64 and 256 Ps, oversubscribed on a machine of a few cores,
# MANYP_ROUNDS rounds each (default 2), the pc rounds at 256 Ps also traced
# and checked: for correctness, not speed; about 6 s in a plain or ASan
# build. Under ThreadSanitizer (WEFT_SAN_CFLAGS, set by make) every part
# runs one round and the tree only at 256 Ps: there a tree round takes
# 9-13 s (each weft_set_procs stops and restarts up to 256 Ps and their
# threads), a net round 5 s, a pc round 2-3 s: 30-65 s for this TSan
# tier on a busy 2-core machine, against 46-90 s for the full one
# (seed 31337).
set -eu
dir=$(dirname "$0")
bin=${STRESS_BIN:-./tests/stress}
secs=${STRESS_SECONDS:-120}
seed=${STRESS_SEED:-$(date +%s)}
end=$(( $(date +%s) + secs ))
echo "stress: base seed $seed for ${secs}s (set STRESS_SEED to replay)"
while [ "$(date +%s)" -lt "$end" ]; do
  "$bin" -s "$seed" -r 10 || { echo "stress: FAILED; replay with: $bin -s <seed above> -r 1"; exit 1; }
  seed=$((seed + 10))
done
wt=${WEFT_TRACE_BIN:-./weft-trace}
rounds=${STORM_ROUNDS:-3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-storm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "stress: signal storm, base seed $seed"
for p in 1 2 8; do
  "$bin" -m pc -i -P "$p" -s "$seed" -r "$rounds" ||
    { echo "stress: FAILED (storm, $p Ps); replay with: $bin -m pc -i -P $p -s <seed above> -r 1"; exit 1; }
  r=0
  while [ "$r" -lt "$rounds" ]; do
    s=$((seed + r))
    "$bin" -m pc -i -P "$p" -s "$s" -r 1 -t "$tmp/storm.wt" ||
      { echo "stress: FAILED (storm, traced, $p Ps); replay with: $bin -m pc -i -P $p -s $s -r 1 -t FILE"; exit 1; }
    "$wt" stats --json "$tmp/storm.wt" > "$tmp/stats.json" ||
      { echo "stress: the trace of seed $s at $p Ps is unreadable (kept: $tmp/storm.wt)"; trap - EXIT; exit 1; }
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if d["anomalies"] == 0 and d["complete"] else 1)' "$tmp/stats.json" ||
      { echo "stress: the trace of seed $s at $p Ps has anomalies or is incomplete: $(cat "$tmp/stats.json" | head -c 400)"; trap - EXIT; exit 1; }
    r=$((r + 1))
  done
  seed=$((seed + rounds))
done
nrounds=${NET_ROUNDS:-3}
[ "$nrounds" -gt 0 ] && echo "stress: netpoller, base seed $seed"
[ "$nrounds" -gt 0 ] && for p in 1 2 8; do
  "$bin" -m net -i -P "$p" -s "$seed" -r "$nrounds" ||
    { echo "stress: FAILED (net, $p Ps); replay with: $bin -m net -i -P $p -s <seed above> -r 1"; exit 1; }
  r=0
  while [ "$r" -lt "$nrounds" ]; do
    s=$((seed + r))
    "$bin" -m net -P "$p" -s "$s" -r 1 -t "$tmp/net.wt" ||
      { echo "stress: FAILED (net, traced, $p Ps); replay with: $bin -m net -P $p -s $s -r 1 -t FILE"; exit 1; }
    "$wt" stats --json "$tmp/net.wt" > "$tmp/stats.json" ||
      { echo "stress: the net trace of seed $s at $p Ps is unreadable (kept: $tmp/net.wt)"; trap - EXIT; exit 1; }
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if d["anomalies"] == 0 and d["complete"] else 1)' "$tmp/stats.json" ||
      { echo "stress: the net trace of seed $s at $p Ps has anomalies or is incomplete: $(head -c 400 "$tmp/stats.json")"; trap - EXIT; exit 1; }
    r=$((r + 1))
  done
  seed=$((seed + nrounds))
done
mrounds=${MANYP_ROUNDS:-2}
[ "$mrounds" -gt 0 ] && echo "stress: many Ps, base seed $seed"
tsan=0
case "${WEFT_SAN_CFLAGS:-}" in *sanitize=thread*) tsan=1; [ "$mrounds" -gt 1 ] && mrounds=1 ;; esac
[ "$mrounds" -gt 0 ] && for p in 64 256; do
  if [ "$tsan" -eq 0 ] || [ "$p" -eq 256 ]; then
    "$bin" -P "$p" -s "$seed" -r "$mrounds" ||
      { echo "stress: FAILED (tree, $p Ps); replay with: $bin -P $p -s <seed above> -r 1"; exit 1; }
  fi
  "$bin" -m pc -i -P "$p" -s "$seed" -r "$mrounds" ||
    { echo "stress: FAILED (storm, $p Ps); replay with: $bin -m pc -i -P $p -s <seed above> -r 1"; exit 1; }
  "$bin" -m net -i -P "$p" -s "$seed" -r "$mrounds" ||
    { echo "stress: FAILED (net, $p Ps); replay with: $bin -m net -i -P $p -s <seed above> -r 1"; exit 1; }
  if [ "$p" -eq 256 ]; then
    "$bin" -m pc -P "$p" -s "$seed" -r 1 -t "$tmp/many.wt" ||
      { echo "stress: FAILED (pc, traced, $p Ps); replay with: $bin -m pc -P $p -s $seed -r 1 -t FILE"; exit 1; }
    "$wt" stats --json "$tmp/many.wt" > "$tmp/stats.json" ||
      { echo "stress: the trace of seed $seed at $p Ps is unreadable (kept: $tmp/many.wt)"; trap - EXIT; exit 1; }
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if d["anomalies"] == 0 and d["complete"] else 1)' "$tmp/stats.json" ||
      { echo "stress: the trace of seed $seed at $p Ps has anomalies or is incomplete: $(head -c 400 "$tmp/stats.json")"; trap - EXIT; exit 1; }
  fi
  seed=$((seed + mrounds))
done
echo "stress: passed"
