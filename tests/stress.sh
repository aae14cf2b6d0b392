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
echo "stress: passed"
