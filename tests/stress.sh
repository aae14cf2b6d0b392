#!/bin/sh
# stress.sh - make stress: run the randomized torture for STRESS_SECONDS
# (default 120), one seed after another; a failure prints its seed and the
# command that replays it.
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
echo "stress: passed"
