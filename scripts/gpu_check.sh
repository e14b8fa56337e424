#!/usr/bin/env bash
# One-command GPU check: on a CUDA machine, the quick claim profile with --device cuda, one claim through
# the Dask executor (one worker pinned per visible GPU), and the benchmarks on cuda; everything under OUT_DIR.
#
#   scripts/gpu_check.sh OUT_DIR
#
# Uses $PYTHON (default: python3 on PATH) and its preinstalled torch (never installs torch). Missing
# pure-Python dependencies are installed with pip (ICLCHECK_GPU_PIP=0: never); the harness itself runs
# from this checkout (PYTHONPATH), not installed. Fails at once, exit 2, when torch sees no CUDA device.
# OUT_DIR gets: env.txt (torch, CUDA, GPUs, commit), claims/ (the report), dask/ (a one-claim Dask
# run), bench/ (latest.json, pytest-benchmark's JSON), results/ (the record store), *.log and summary.txt.
# Exit status: 0 when every step passed; else the first failing step's status (claims: 1 = an
# unexpected verdict, which on a GPU may be float noise; read claims/report.md).
# Environment: ICLCHECK_GPU_DEVICE (default cuda), ICLCHECK_GPU_BENCH_ARGS (extra pytest arguments for
# the benchmarks, e.g. '-k "not compiled"' to leave torch.compile out), ICLCHECK_GPU_DASK=0 (skip the Dask step).
set -uo pipefail
PYTHON="${PYTHON:-python3}"  # the interpreter (a test passes its own)

out=${1:?usage: scripts/gpu_check.sh OUT_DIR}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$out" && out=$(cd "$out" && pwd) || { echo "gpu_check: cannot create $out" >&2; exit 2; }
device=${ICLCHECK_GPU_DEVICE:-cuda}
cd "$repo"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" ICLCHECK_RESULTS="$out/results" PYTHONHASHSEED=0

"$PYTHON" - "$device" > "$out/env.txt" <<'EOF'
import subprocess, sys
try:
    import torch
except ImportError:
    sys.exit("gpu_check: torch is not installed for this python3 (install the CUDA build first; this script never installs torch)")
if not torch.cuda.is_available():
    sys.exit(f"gpu_check: no CUDA device: torch {torch.__version__} (CUDA build: {torch.version.cuda}) "
             f"reports torch.cuda.is_available() = False; run this on a machine with an NVIDIA GPU and a CUDA build of torch")
dev = torch.device(sys.argv[1])
if dev.type != "cuda" or (dev.index or 0) >= torch.cuda.device_count():
    sys.exit(f"gpu_check: device {sys.argv[1]!r} is not one of the {torch.cuda.device_count()} CUDA device(s)")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s)")
for i in range(torch.cuda.device_count()):
    print(f"cuda:{i} {torch.cuda.get_device_name(i)}")
head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
print("commit", head.stdout.strip() or "unknown")
EOF
rc=$?
if [ "$rc" -ne 0 ]; then exit 2; fi
cat "$out/env.txt"

missing=$("$PYTHON" - <<'EOF'
import importlib.util
mods = {"numpy": "numpy", "scipy": "scipy", "tabulate": "tabulate", "matplotlib": "matplotlib", "tqdm": "tqdm",
        "sklearn": "scikit-learn", "pytest": "pytest", "pytest_benchmark": "pytest-benchmark", "hypothesis": "hypothesis",
        "distributed": "dask[distributed]"}
print(" ".join(pkg for mod, pkg in mods.items() if importlib.util.find_spec(mod) is None))
EOF
)
if [ -n "$missing" ]; then
  if [ "${ICLCHECK_GPU_PIP:-1}" = 0 ]; then echo "gpu_check: missing packages: $missing (ICLCHECK_GPU_PIP=0)" >&2; exit 2; fi
  echo "installing: $missing"
  # shellcheck disable=SC2086  # one argument per package
  "$PYTHON" -m pip install -q $missing || { echo "gpu_check: pip could not install: $missing" >&2; exit 2; }
fi

status=0
summary() { echo "$1" | tee -a "$out/summary.txt"; }
step() {  # step NAME COMMAND...: run, log, time, keep the first failure
  local name=$1 t0=$SECONDS rc
  shift
  echo "== $name: $*"
  "$@" > "$out/$name.log" 2>&1
  rc=$?
  summary "$name: exit $rc in $((SECONDS - t0)) s (log: $name.log)"
  if [ "$rc" -ne 0 ]; then tail -n 20 "$out/$name.log" >&2; [ "$status" -ne 0 ] || status=$rc; fi
}

: > "$out/summary.txt"
step claims "$PYTHON" -m harness run --profile quick --device "$device" --out "$out/claims" --no-progress
if [ "${ICLCHECK_GPU_DASK:-1}" != 0 ]; then
  step dask "$PYTHON" -m harness run claims/attn-rise.toml --profile quick --device "$device" --executor dask \
    --results "$out/dask-results" --out "$out/dask" --no-progress
fi
# shellcheck disable=SC2086  # extra arguments as the user wrote them
eval "bench_args=(${ICLCHECK_GPU_BENCH_ARGS:-})"
mkdir -p "$out/bench"
step bench env ICLCHECK_BENCH_DEVICE="$device" "$PYTHON" -m pytest benchmarks -p no:randomly -p no:cacheprovider --benchmark-only \
  --benchmark-storage="$out/bench/storage" --benchmark-json="$out/bench/pytest-benchmark.json" -q -s "${bench_args[@]}"
[ -f "$out/results/benchmarks/latest.json" ] && mkdir -p "$out/bench" && cp "$out/results/benchmarks/latest.json" "$out/bench/"
summary "gpu_check: $([ "$status" -eq 0 ] && echo passed || echo "FAILED (exit $status)"); outputs in $out"
exit "$status"
