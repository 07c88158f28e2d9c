#!/usr/bin/env bash
# One GPU session for issue 15: the figures of docs/performance.md's GPU rows, in order of value.
#
#   bash benchmarks/gpu_session.sh            # on the GPU machine, $OUT set, the package importable
#   SMOKE=1 bash benchmarks/gpu_session.sh    # the same parts shrunk to seconds on a CPU (a check of the script)
#
# Parts (each under its own `timeout`, logging to $OUT/<part>.log; a failing part does not stop the others):
#   1 loops  bench_training.py --parts loops: plain skorch, today's path, the new default (+ per-step sync,
#            + CUDA graphs at 96) at 96 and 768 clips per batch, 60 steps after a warm-up fit that pays compilation
#   2 mel    bench_mel.py --parts mel: MelTransformer on CUDA (numpy and tensor out) against librosa, 4,000 clips
#            (1,000 were too few: tens of milliseconds on the GPU), and the host-side input check alone
#   3 tests  the CUDA tests (pytest -k "cuda or gpu"; includes the sync-debug and pickling tests)
#   4 paper  per-epoch seconds of the paper's 6 configurations (each on its own fold), 2, 4 and 8 concurrent
#            fits, extrapolated comparison
#   5 profile  where a default PL+T training step's time goes at 96 and 768 clips: device busy share, top kernels
# Budget: 140 + 90 + 140 + 200 + 90 = 660 s at most, compilation included. Installs nothing.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_session}
PY=${PYTHON:-python}
export PYTHONUNBUFFERED=1  # a part cut short by its timeout keeps the lines it printed
mkdir -p "$OUT"

if [ -n "${SMOKE:-}" ]; then
  DEVICE=cpu
  LOOPS="--smoke"
  MEL="--n-clips 8 --repeat 1"
  TESTS=(-k "gpu_speed and not cuda")
  PAPER="--smoke"
  PROFILE="--smoke"
else
  DEVICE=cuda
  LOOPS="--steps 60 --peak-tflops 989"
  MEL="--n-clips 4000 --repeat 2"
  TESTS=(-n 4 -k "cuda or gpu")  # 16 cores there: four processes share the GPU and compile side by side
  PAPER="--paper-measure 2 --concurrency 2 4 8 --paper-epochs 600"
  PROFILE="--profile-steps 20"
fi

declare -a SUMMARY
run_part() {  # name, seconds, command...
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  echo "== $name (timeout ${limit}s): $*"
  timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$? status=ok
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status="TIMED OUT"; elif [ $rc -ne 0 ]; then status="FAILED (rc $rc)"; fi
  SUMMARY+=("| $name | $status | $((SECONDS - start)) s | $OUT/$name.log |")
  tail -n 3 "$OUT/$name.log"
}

{
  echo "start: $(date -u)"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
  "$PY" -c "import torch, skorch; print('torch', torch.__version__, 'skorch', skorch.__version__, 'cuda', torch.cuda.is_available())"
} >"$OUT/environment.log" 2>&1

# PARTS picks and orders the parts (a rerun of some); LIMIT_<part> overrides a part's seconds.
for part in ${PARTS:-loops mel tests paper profile}; do
  case $part in
    loops) run_part loops "${LIMIT_loops:-140}" "$PY" benchmarks/bench_training.py --device $DEVICE --parts loops $LOOPS ;;
    mel) run_part mel "${LIMIT_mel:-90}" "$PY" benchmarks/bench_mel.py --parts mel $MEL ;;
    tests) run_part tests "${LIMIT_tests:-140}" "$PY" -m pytest -q -rs -p no:cacheprovider tests "${TESTS[@]}" ;;
    paper) run_part paper "${LIMIT_paper:-200}" "$PY" benchmarks/bench_training.py --device $DEVICE --parts paper $PAPER ;;
    profile) run_part profile "${LIMIT_profile:-90}" "$PY" benchmarks/bench_training.py --device $DEVICE --parts profile $PROFILE ;;
    *) echo "unknown part: $part" ;;
  esac
done

echo
echo "== summary"
cat "$OUT/environment.log"
echo "| part | status | wall | log |"
echo "|---|---|---|---|"
printf '%s\n' "${SUMMARY[@]}"
echo
echo "-- loops (clips/s inside HierarchicalEmbedder.fit; targets on CUDA: default >= 20,000 at 96, >= 30,000 at 768)"
grep -E '^\| (96|768) ' "$OUT/loops.log" 2>/dev/null || echo "(no rows)"
echo "-- mel (target on CUDA: >= 100x librosa)"
grep -E '^\| (librosa|torch CUDA|MelTransformer|ours|`np)' "$OUT/mel.log" || echo "(no rows)"
echo "-- tests"
tail -n 1 "$OUT/tests.log"
echo "-- paper (target: the whole comparison <= 30 min)"
grep -E 'concurrent|fits x|as early as' "$OUT/paper.log" || echo "(no rows)"
echo "-- profile (device busy share per training step; the top kernels are in the log)"
grep -E 'clips per batch' "$OUT/profile.log" || echo "(no rows)"
