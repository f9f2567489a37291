#!/usr/bin/env bash
# Issue 15's benchmark, one shot on a GPU machine (made for the H200 box, 16 cores): does GPU
# training pay? The seed-sized NCF (11 numeric features + the `device` field, emb 8, 32 -> 16 -> 1,
# 1 epoch) on the 10 M-impression log, side by side in one run:
#   clickrec  backend = "wgpu", tables = "device", batch 512, 8192, 65536
#   clickrec  backend = "flex" (CPU), batch 512, RAYON_NUM_THREADS 2 and 16
#   the split of a step's time (CLICKREC_STEP_TIMES=1) for flex and wgpu, on a 1 M-row log
#   PyTorch   benches/ncf_torch_device.py on CUDA (everything on the device), batch 512, 8192,
#             65536, dense Adam and SparseAdam
# Every row above batch 512 trains at lr 1e-3 x sqrt(batch / 512) (clickrec: lr_scaling = "sqrt",
# lr_base_batch = 512; the peer: the same rule), and reports its test AUC.
#
#   benches/gpu.sh                       (on the device machine, from a checkout)
#   DRY=1 PY=/work/peers-venv/bin/python BIN=path/to/clickrec benches/gpu.sh     (CPU plumbing test)
#
# The binary: BIN=path (an unpacked clickrec), else BIN_XZ (default bin/clickrec.xz: a stripped
# release build with --features wgpu, xz-compressed; unpacked with Python's lzma, no xz needed;
# made with `cargo build --release --features wgpu`, `strip`, then
# `python3 -c "import lzma,shutil,sys; shutil.copyfileobj(open(sys.argv[1],'rb'), lzma.open(sys.argv[2],'wb'))" BIN bin/clickrec.xz`).
# Vulkan: VULKAN_DEBS=dir of loader .debs (libvulkan1 ...; ../.library/device/README.md) are
# unpacked with dpkg -x into / then ldconfig, as that README says (root), or into VK_PREFIX=dir
# with LD_LIBRARY_PATH set (non-root or VK_PREFIX given). VK_DRIVER_FILES / VK_ICD_FILENAMES point
# at the NVIDIA ICD when the driver's folder has one and they are unset.
#
# Environment: OUT=dir (write gpu_table.txt, gpu_rows.jsonl, gpu_errors.log there), WORK=dir
# (default a fresh temp dir; ~3 GB), PY (default python3: the one with CUDA PyTorch), DATA=log
# (skip generation), ROWS / USERS / ITEMS (default 10000000 / 200000 / 50000),
# DRY=1 (CPU-only: 1 M rows, 20 k users, 5 k items, the peer on --device cpu, no wgpu rows unless
# SKIP_WGPU is set empty), SKIP_WGPU=1, SKIP_FLEX=1, SKIP_TORCH=1, WGPU_BATCHES ("512 8192 65536"),
# FLEX_BATCHES ("512"), FLEX_THREADS ("2 16"), TORCH_BATCHES ("512 8192 65536"), TORCH_OPTS
# ("dense sparse"), TORCH_ARGS (more peer flags, e.g. "--init-std 0.01"), TORCH_DEVICE (cuda; cpu with DRY), TORCH_THREADS (default nproc),
# TIMEOUT (per row, default 150 s), BUDGET (the whole script, default 480 s: a row that would not
# fit is skipped, each row's timeout is cut to what is left).
# A failing row prints its error and the script goes on. Rows run cheapest first; wgpu batch 512
# runs last. Peer wall seconds exclude the one-off parse/split/encode of the log (its own line,
# cached as .npz for the six peer rows); clickrec's wall is the whole `clickrec train`.
set -uo pipefail
cd "$(dirname "$0")/.."
now() { local t=$EPOCHREALTIME; echo "${t/,/.}"; }  # a dot whatever the locale
T0=$(now)
PY="${PY:-python3}"
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"
if [ -n "${DRY:-}" ]; then
  : "${ROWS:=1000000}" "${USERS:=20000}" "${ITEMS:=5000}" "${SKIP_WGPU=1}" "${TORCH_DEVICE:=cpu}"
fi
ROWS="${ROWS:-10000000}" USERS="${USERS:-200000}" ITEMS="${ITEMS:-50000}"
TORCH_DEVICE="${TORCH_DEVICE:-cuda}" TIMEOUT="${TIMEOUT:-150}" BUDGET="${BUDGET:-480}"
NPROC=$(nproc)
export OPENBLAS_NUM_THREADS=1
[ -n "${OUT:-}" ] && mkdir -p "$OUT"
TABLE="$WORK/gpu_table.txt" JSONL="$WORK/gpu_rows.jsonl" ERRORS="$WORK/gpu_errors.log"
: > "$TABLE"; : > "$JSONL"; : > "$ERRORS"
say() { echo "$*" | tee -a "$TABLE"; }
die() { say "gpu.sh: $*"; finish; exit 1; }
finish() { [ -n "${OUT:-}" ] && cp "$TABLE" "$JSONL" "$ERRORS" "$OUT/" 2>/dev/null; true; }
elapsed() { "$PY" -c "print(f'{$(now) - $T0:.1f}')"; }
say "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $NPROC  work: $WORK  rows: $ROWS${DRY:+  (DRY: CPU figures)}"

# --- setup: binary, Vulkan loader, nvidia-smi, the log ------------------------------------
if [ -n "${BIN:-}" ]; then
  [ -x "$BIN" ] || die "BIN=$BIN is not an executable"
else
  BIN_XZ="${BIN_XZ:-bin/clickrec.xz}"
  [ -f "$BIN_XZ" ] || die "no binary: $BIN_XZ missing (carry it, or set BIN_XZ or BIN)"
  BIN="$WORK/clickrec"
  "$PY" -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" \
    "$BIN_XZ" "$BIN" || die "could not unpack $BIN_XZ"
  chmod +x "$BIN"
fi
say "binary: $BIN ($("$BIN" --version 2>&1 | head -1))"

if [ -n "${VULKAN_DEBS:-}" ]; then
  if [ "$(id -u)" = 0 ] && [ -z "${VK_PREFIX:-}" ]; then
    for f in "$VULKAN_DEBS"/*.deb; do dpkg -x "$f" / || say "dpkg -x $f failed"; done
    ldconfig
  else
    VK_PREFIX="${VK_PREFIX:-$WORK/vk}"
    for f in "$VULKAN_DEBS"/*.deb; do dpkg -x "$f" "$VK_PREFIX" || say "dpkg -x $f failed"; done
    export LD_LIBRARY_PATH="$VK_PREFIX/usr/lib/x86_64-linux-gnu:$VK_PREFIX/usr/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
fi
have_vulkan() {
  ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' && return 0
  local d dirs
  IFS=: read -ra dirs <<< "${LD_LIBRARY_PATH:-}"
  for d in "${dirs[@]}"; do [ -n "$d" ] && [ -e "$d/libvulkan.so.1" ] && return 0; done
  return 1
}
if [ -z "${SKIP_WGPU:-}" ] && ! have_vulkan; then
  say "wgpu rows skipped: no libvulkan.so.1 (set VULKAN_DEBS to a folder of the loader .debs)"
  SKIP_WGPU=1
fi
HAVE_SMI=""
command -v nvidia-smi > /dev/null && HAVE_SMI=1
if [ -n "$HAVE_SMI" ]; then nvidia-smi 2>&1 | tee -a "$TABLE"; else say "nvidia-smi: not found"; fi

if [ -n "${DATA:-}" ]; then
  LOG="$DATA"
else
  LOG="$WORK/log.parquet"
  t=$(now)
  "$BIN" generate --kind ctr --users "$USERS" --items "$ITEMS" --rows "$ROWS" --days 30 --seed 1 \
    -o "$LOG" > "$WORK/generate.log" 2>&1 || { cat "$WORK/generate.log"; die "generate failed"; }
  say "generate: $ROWS rows, $USERS users x $ITEMS items, 30 days: $("$PY" -c "print(f'{$(now) - $t:.1f}')") s"
fi

# --- the rows ----------------------------------------------------------------------------
features='"user_level", "user_registered_months", "user_follow_count", "user_fans_count", "user_gender",
  "item_impressions", "item_clicks", "item_days_since_publish",
  "creator_level", "creator_followers", "creator_registered_months"'
config() { # name, backend, tables, batch -> $WORK/name.toml: the seed NCF over 11 features + device
  cat > "$WORK/$1.toml" <<TOML
name = "$1"
seed = 1
[data]
path = "$LOG"
label = "is_click"
features = [$features]
categorical = ["device"]
[ncf]
embedding_dim = 8
hidden = [32, 16]
epochs = 1
batch_size = $4
backend = "$2"
tables = "$3"
learning_rate = 0.001
lr_scaling = "sqrt"
lr_base_batch = 512
[output]
dir = "$WORK/$1-run"
TOML
}
lr_of() { "$PY" -c "import math; print(f'{1e-3 * math.sqrt($1 / 512):.6g}')"; }
row_timeout() { # prints the seconds a row may take, or nothing if the budget is spent
  "$PY" -c "left = $BUDGET - ($(now) - $T0) - 10; print(int(min($TIMEOUT, left)) if left >= 20 else '')"
}
fmt='%-12s %-6s %-6s %6s %9s %7s %12s %8s %7s  %s'
say "$(printf "$fmt" trainer backend tables batch lr threads samples/s test_AUC wall_s 'gpu: max util %, max MiB')"
row() { # trainer backend tables batch lr threads sps auc wall gpu
  say "$(printf "$fmt" "$@")"
}
fail() { # name, log file, what
  say "  $1: $3 (last lines of $2 below and in gpu_errors.log)"
  { echo "=== $1: $3"; tail -n 20 "$2"; } | tee -a "$ERRORS" | sed 's/^/    /'
}
# GPU utilisation and memory, sampled every 0.5 s while a row runs (proof the row used the GPU).
SMI_PID=""
smi_start() {
  [ -n "$HAVE_SMI" ] || return 0
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 500 \
    > "$WORK/$1.smi" 2>/dev/null &
  SMI_PID=$!
}
smi_stop() { # name -> "util% MiB" maxima
  if [ -z "$SMI_PID" ]; then echo "-"; return; fi
  kill "$SMI_PID" 2>/dev/null; wait "$SMI_PID" 2>/dev/null; SMI_PID=""
  "$PY" - "$WORK/$1.smi" <<'PY'
import sys
rows = [l.split(",") for l in open(sys.argv[1]) if l.count(",") == 1]
vals = [(float(a), float(b)) for a, b in rows if a.strip().replace(".", "").isdigit()]
print(f"{max(v[0] for v in vals):.0f}% {max(v[1] for v in vals):.0f}" if vals else "-")
PY
}

clickrec_row() { # backend tables batch threads(or "") 
  local backend=$1 tables=$2 batch=$3 threads=$4 name="$1-$2-b$3${4:+-t$4}" to t0 rc wall gpu
  to=$(row_timeout)
  if [ -z "$to" ]; then say "  $name: skipped (under 20 s left of BUDGET=$BUDGET s)"; return; fi
  config "$name" "$backend" "$tables" "$batch"
  smi_start "$name"
  t0=$(now)
  if [ -n "$threads" ]; then
    RAYON_NUM_THREADS=$threads timeout -k 5 "$to" "$BIN" train "$WORK/$name.toml" -q --force > "$WORK/$name.log" 2>&1
  else
    timeout -k 5 "$to" "$BIN" train "$WORK/$name.toml" -q --force > "$WORK/$name.log" 2>&1
  fi
  rc=$?
  wall=$("$PY" -c "print(f'{$(now) - $t0:.1f}')")
  gpu=$(smi_stop "$name")
  if [ $rc -ne 0 ]; then
    fail "$name" "$WORK/$name.log" "$([ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "timed out after $to s" || echo "exit $rc")"
    return
  fi
  local m="$WORK/$name-run/metrics.json"
  read -r sps auc < <("$PY" - "$m" "$name" "$wall" "$batch" "${threads:-$NPROC}" "$(lr_of "$batch")" "$JSONL" "$gpu" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
t, a = m["timings"]["ncf"], m["models"]["ncf"]
notes = [n for n in a.get("notes", []) if n.startswith("learning rate")]
rec = {"row": sys.argv[2], "trainer": "clickrec", "batch": int(sys.argv[4]), "threads": int(sys.argv[5]),
       "lr": float(sys.argv[6]), "samples_per_second": t["samples_per_sec"], "fit_seconds": t["fit_seconds"],
       "auc": a["auc"], "logloss": a["logloss"], "wall_seconds": float(sys.argv[3]), "gpu": sys.argv[8],
       "lr_note": notes[0] if notes else None, "stages": m["timings"]["stages"],
       "peak_rss_bytes": m["timings"].get("peak_rss_bytes")}
open(sys.argv[7], "a").write(json.dumps(rec) + "\n")
print(f"{t['samples_per_sec']:.0f} {a['auc']:.4f}")
PY
  )
  row clickrec "$backend" "$tables" "$batch" "$(lr_of "$batch")" "${threads:-$NPROC}" "${sps:-?}" "${auc:-?}" "$wall" "$gpu"
}

PEER_CACHE="$WORK/peer.npz"
peer_row() { # batch dense|sparse
  local batch=$1 opt=$2 name="torch-$TORCH_DEVICE-$2-b$1" to t0 rc wall gpu
  to=$(row_timeout)
  if [ -z "$to" ]; then say "  $name: skipped (under 20 s left of BUDGET=$BUDGET s)"; return; fi
  smi_start "$name"
  t0=$(now)
  timeout -k 5 "$to" "$PY" benches/ncf_torch_device.py --data "$LOG" --cache "$PEER_CACHE" \
    --device "$TORCH_DEVICE" --batch "$batch" --epochs 1 --threads "${TORCH_THREADS:-$NPROC}" --seed 1 \
    $([ "$opt" = sparse ] && echo --sparse) ${TORCH_ARGS:-} > "$WORK/$name.log" 2>&1
  rc=$?
  wall=$("$PY" -c "print(f'{$(now) - $t0:.1f}')")
  gpu=$(smi_stop "$name")
  if [ $rc -ne 0 ]; then
    fail "$name" "$WORK/$name.log" "$([ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "timed out after $to s" || echo "exit $rc")"
    return
  fi
  read -r sps auc lr < <("$PY" - "$WORK/$name.log" "$name" "$wall" "$JSONL" "$gpu" <<'PY'
import json, sys
p = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
p.update(row=sys.argv[2], trainer="torch", wall_seconds=float(sys.argv[3]), gpu=sys.argv[5])
open(sys.argv[4], "a").write(json.dumps(p) + "\n")
print(f"{p['samples_per_second']:.0f} {p['auc']:.4f} {p['lr']:.6g}")
PY
  )
  row "torch-$opt" "$TORCH_DEVICE" "$TORCH_DEVICE" "$batch" "${lr:-?}" "${TORCH_THREADS:-$NPROC}" "${sps:-?}" "${auc:-?}" "$wall" "$gpu"
}

# 1. the PyTorch peer (parse, split and encode once, then every row from the cache)
if [ -z "${SKIP_TORCH:-}" ]; then
  t=$(now)
  if timeout -k 5 "$TIMEOUT" "$PY" - "$LOG" "$PEER_CACHE" > "$WORK/peer-prep.log" 2>&1 <<'PY'
import sys
sys.path.insert(0, "benches")
import ncf_torch_device as p
a = p.parse_args(["--data", sys.argv[1], "--cache", sys.argv[2]])
p.load_data(a)
PY
  then
    say "peer data: parse, last-day split, encode, scale: $("$PY" -c "print(f'{$(now) - $t:.1f}')") s (once, not in the rows' wall)"
    for opt in ${TORCH_OPTS:-dense sparse}; do
      for b in ${TORCH_BATCHES:-512 8192 65536}; do peer_row "$b" "$opt"; done
    done
  else
    fail torch-prep "$WORK/peer-prep.log" "peer data preparation failed; peer rows skipped"
  fi
fi
# 2. clickrec on the CPU
if [ -z "${SKIP_FLEX:-}" ]; then
  for th in ${FLEX_THREADS:-2 16}; do
    for b in ${FLEX_BATCHES:-512}; do clickrec_row flex host "$b" "$th"; done
  done
fi
# 3. clickrec on the GPU, large batches first (batch 512 is the one that may run out of time)
if [ -z "${SKIP_WGPU:-}" ]; then
  for b in $(printf '%s\n' ${WGPU_BATCHES:-512 8192 65536} | sort -rn); do clickrec_row wgpu device "$b" ""; done
fi
# 4. Where a step's time goes on each backend (CLICKREC_STEP_TIMES=1: every phase ends with a
# device sync, so the rows are slower than above; a 1 M-row log keeps them short).
if [ -z "${SKIP_SPLIT:-}" ]; then
  SMALL="$WORK/small.parquet"
  "$BIN" generate --kind ctr --users 20000 --items 5000 --rows 1000000 --days 30 --seed 1 \
    -o "$SMALL" > "$WORK/generate-small.log" 2>&1 || fail split "$WORK/generate-small.log" "generate failed"
  split_row() { # backend tables batch threads
    local name="split-$1-$2-b$3-t$4" to
    to=$(row_timeout)
    if [ -z "$to" ]; then say "  $name: skipped (under 20 s left of BUDGET=$BUDGET s)"; return; fi
    LOG="$SMALL" config "$name" "$1" "$2" "$3"
    if CLICKREC_STEP_TIMES=1 RAYON_NUM_THREADS=$4 timeout -k 5 "$to" "$BIN" train "$WORK/$name.toml" \
      -q --force > "$WORK/$name.log" 2>&1; then
      say "$name: $(grep -m1 'step times' "$WORK/$name.log" || echo 'no step times line')"
    else
      fail "$name" "$WORK/$name.log" "exit $?"
    fi
  }
  [ -f "$SMALL" ] && for th in ${FLEX_THREADS:-2 16}; do split_row flex host 512 "$th"; done
  if [ -f "$SMALL" ] && [ -z "${SKIP_WGPU:-}" ]; then
    for b in 512 65536; do split_row wgpu device "$b" "$NPROC"; done
  fi
fi
say "total: $(elapsed) s"
finish
