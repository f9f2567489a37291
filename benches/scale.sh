#!/usr/bin/env bash
# Issue 8's benchmark: NCF training speed and the data path at click-log scale, against the
# PyTorch peer (../shared/peers/ncf_torch.py, dense and --sparse) in the same run on the same data.
#
#   benches/scale.sh [PEERS_VENV]        (default /tmp/peers-venv, made by ../shared/peers/setup.sh)
#
# Environment: WORK=DIR (default a fresh temp dir; needs ~8 GB free), SKIP_BIG=1 (skip the 57 M run),
# SKIP_PEERS=1 (clickrec only), BASELINE_BIN=path (an older clickrec to compare on ml-100k).
# Prints one line per measurement. Takes about 15 minutes on 2 cores. Needs an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-/tmp/peers-venv}"
PEERS="$(cd ../shared/peers && pwd)"
PY="$VENV/bin/python"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clickrec/target}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/clickrec"
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"
export RAYON_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  work: $WORK"

features='"user_level", "user_registered_months", "user_follow_count", "user_fans_count", "user_gender",
  "item_impressions", "item_clicks", "item_days_since_publish",
  "creator_level", "creator_followers", "creator_registered_months"'
config() { # name, data path, output dir -> the seed's NetEase model: 11 features + device, 1 epoch
  cat > "$WORK/$1.toml" <<TOML
name = "$1"
seed = 1
[data]
path = "$2"
label = "is_click"
features = [$features]
categorical = ["device"]
[ncf]
embedding_dim = 8
hidden = [32, 16]
epochs = 1
batch_size = 512
[output]
dir = "$3"
TOML
}
json() { "$PY" -c "import json,sys; m=json.load(open(sys.argv[1])); print($2)" "$1"; }
# Peak RSS (GB) and wall seconds of a command, from GNU time's -v report.
timed() { # out-file, command...
  local out=$1; shift
  /usr/bin/time -v "$@" > "$out.stdout" 2> "$out.time" || { cat "$out.time" >&2; return 1; }
  "$PY" - "$out.time" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) * 1024 / 1e9
w = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1).split(":")
wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
print(f"{wall:.1f} {rss:.2f}")
PY
}

# --- 1. 10 M impressions, 200 k users x 50 k items, 1 epoch, batch 512 -----------------------
"$BIN" generate --kind ctr --users 200000 --items 50000 --rows 10000000 --days 30 --seed 1 \
  -o "$WORK/ten.parquet" > /dev/null
config ten "$WORK/ten.parquet" "$WORK/ten-run"
read -r wall rss < <(timed "$WORK/ten" "$BIN" train "$WORK/ten.toml" -q --force)
m="$WORK/ten-run/metrics.json"
ours_sps=$(json "$m" 'm["timings"]["ncf"]["samples_per_sec"]')
ours_auc=$(json "$m" 'round(m["models"]["ncf"]["auc"], 4)')
echo "10M clickrec: $(printf '%.0f' "$ours_sps") samples/s, test AUC $ours_auc, whole train ${wall} s, peak RSS ${rss} GB"
echo "10M stages: $(json "$m" '" ".join(f"{k} {v:.1f}" if not isinstance(v, dict) else " ".join(f"{k}.{a} {b:.1f}" for a, b in v.items()) for k, v in m["timings"]["stages"].items())')"
if [ -z "${SKIP_PEERS:-}" ]; then
  # The peer reads a CSV with user,item,timestamp,label + numeric features: the same rows, the
  # device one-hot encoded as clickrec does.
  "$PY" - "$WORK/ten.parquet" "$WORK/ten.csv" <<'PY'
import sys, pandas as pd
df = pd.read_parquet(sys.argv[1]).rename(columns={"is_click": "label"})
for d in sorted(df["device"].unique()):
    df[f"device_{d}"] = (df["device"] == d).astype("int8")
df.drop(columns=["device"]).to_csv(sys.argv[2], index=False)
PY
  for mode in "--sparse" ""; do
    peer=$(cd "$PEERS" && "$PY" ncf_torch.py --ctr-csv "$WORK/ten.csv" --features all --epochs 1 \
      --threads 2 --seed 1 $mode 2>/dev/null | tail -1)
    "$PY" - "$peer" "$ours_sps" "$ours_auc" "${mode:-dense}" <<'PY'
import json, sys
p = json.loads(sys.argv[1]); ours, auc = float(sys.argv[2]), float(sys.argv[3])
sps = p["samples_per_second"]; pauc = p["metrics"]["auc"]
print(f"10M peer PyTorch {sys.argv[4].lstrip('-')}: {sps:,.0f} samples/s, AUC {pauc:.4f} -> clickrec {ours/sps:.2f}x the samples/s, AUC {auc - pauc:+.4f}")
PY
  done
fi

# --- 2. ml-100k CTR log: small tables must not get slower -----------------------------------
small() { # binary -> median samples/s of 3 runs
  local b=$1 all=""
  for _ in 1 2 3; do
    "$b" train configs/ml-100k-ctr.toml -q --force --set output.dir="$WORK/small" > /dev/null
    all="$all $(json "$WORK/small/metrics.json" 'm["timings"]["ncf"]["samples_per_sec"]')"
  done
  "$PY" -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.0f}')" $all
}
s_new=$(small "$BIN")
line="ml-100k CTR clickrec: $s_new samples/s (median of 3)"
if [ -n "${BASELINE_BIN:-}" ]; then
  s_old=$(small "$BASELINE_BIN")
  line="$line, baseline $s_old -> $("$PY" -c "print(f'{$s_new/$s_old:.3f}')")x"
fi
echo "$line"

# --- 3. NetEase size: 57 M impressions, 2 M users x 200 k items, 30 days --------------------
if [ -z "${SKIP_BIG:-}" ]; then
  rm -f "$WORK/ten.parquet" "$WORK/ten.csv"
  "$BIN" generate --kind ctr --users 2000000 --items 200000 --rows 57000000 --days 30 --seed 1 \
    -o "$WORK/big.parquet" > /dev/null
  config big "$WORK/big.parquet" "$WORK/big-run"
  read -r wall rss < <(timed "$WORK/big" "$BIN" train "$WORK/big.toml" -q --force)
  m="$WORK/big-run/metrics.json"
  echo "57M clickrec train: ${wall} s wall (target <= 240), peak RSS ${rss} GB (target <= 8), $(printf '%.0f' "$(json "$m" 'm["timings"]["ncf"]["samples_per_sec"]')") samples/s, test AUC $(json "$m" 'round(m["models"]["ncf"]["auc"], 4)')"
  echo "57M $(grep '^stages:' "$WORK/big.stdout")"
  echo "57M export: $(du -sh "$WORK/big-run/ncf" | cut -f1) in ncf/"
  rm -f "$WORK/big.parquet"
fi
