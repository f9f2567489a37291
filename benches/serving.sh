#!/usr/bin/env bash
# Serving benchmark and peer checks (figures for the README's serving section):
#
#   benches/serving.sh [PEERS_VENV]      (default /work/peers-venv; BENCH_DIR=... keeps the data)
#
# 1. All-user top-10 from a 200k-user x 50k-item ALS model (64 factors, implicit's settings, on
#    `clickrec generate --kind events --users 200000 --items 50000 --rows 10000000 --days 30
#    --seed 1`), train items excluded: `clickrec recommend --all` vs implicit's batched
#    `recommend` over all users on the same factors (2 threads each), plus numpy's top-10 on a
#    sample of users.
# 2. Fold-in of 20 000 new histories: throughput, and the factors against numpy's exact solve.
# 3. The ONNX scorer: onnxruntime vs `clickrec score` on 3 000 rows (cold rows included).
# Needs an idle machine (the load average is printed first); peak memory about 2 GB.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-/work/peers-venv}"
PY="$VENV/bin/python"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clickrec/target}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/clickrec"
OUT="${BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$OUT"
export RAYON_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
CHECK="$PY benches/serving_check.py"
timed() { # label, command...: runs it, prints wall seconds and peak RSS, echoes the seconds
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$OUT/time" "$@" > /dev/null
  read -r secs kb < "$OUT/time"
  echo "$label: $secs s, peak RSS $((kb / 1024)) MB" >&2
  echo "$secs"
}

# 1. All-user top-10.
[ -f "$OUT/ev.parquet" ] || "$BIN" generate --kind events --users 200000 --items 50000 \
  --rows 10000000 --days 30 --seed 1 -o "$OUT/ev.parquet" > /dev/null
cat > "$OUT/large.toml" <<TOML
name = "serving-bench"
[data]
path = "ev.parquet"
user = "personId"
item = "contentId"
event = "eventType"
[data.event_weights]
VIEW = 1.0
LIKE = 2.0
BOOKMARK = 3.0
FOLLOW = 4.0
"COMMENT CREATED" = 5.0
[eval]
ranking = "sampled"
[popularity]
enabled = false
[als]
factors = 64
confidence = "linear"
[output]
dir = "run"
TOML
[ -f "$OUT/run/als/factors.safetensors" ] || "$BIN" train "$OUT/large.toml" -q --force > /dev/null
ours=$(timed "clickrec recommend --all" "$BIN" recommend "$OUT/run" --all --model als -k 10 \
  -o "$OUT/recs.parquet" -q)
$CHECK topk --run "$OUT/run" --recs "$OUT/recs.parquet" --ours-seconds "$ours" --threads 2

# 2. Fold-in: 20 000 new users with 5-60 random items each (weights 1-3).
"$PY" - "$OUT" <<'PY'
import sys, numpy as np, pyarrow.parquet as pq
out = sys.argv[1]
items = np.unique(pq.read_table(f"{out}/ev.parquet", columns=["contentId"]).column(0).to_numpy())
rng = np.random.default_rng(5)
with open(f"{out}/histories.csv", "w") as f:
    f.write("user,item,weight\n")
    for u in range(20000):
        for i in rng.choice(items, size=rng.integers(5, 61), replace=False):
            f.write(f"new{u},{i},{rng.integers(1, 4)}\n")
PY
"$BIN" recommend "$OUT/run" --history "$OUT/histories.csv" --model als -k 10 \
  --factors-out "$OUT/folded.safetensors" -o "$OUT/history_recs.parquet" 2>&1 | grep folded
$CHECK foldin --run "$OUT/run" --history "$OUT/histories.csv" --factors "$OUT/folded.safetensors"

# 3. ONNX: a CTR run with row features and a categorical, 3 000 rows of which some are cold.
"$BIN" generate --kind ctr --users 2000 --items 800 --rows 60000 --days 7 --seed 2 -o "$OUT/ctr.csv" > /dev/null
cat > "$OUT/ctr.toml" <<TOML
name = "onnx-check"
[data]
path = "ctr.csv"
label = "is_click"
features = ["user_level", "creator_followers", "item_days_since_publish"]
categorical = ["device"]
[ncf]
variant = "neumf"
epochs = 2
item_popularity = true
[output]
dir = "onnx-run"
TOML
"$BIN" train "$OUT/ctr.toml" -q --force > /dev/null
"$PY" - "$OUT" <<'PY'
import sys, pandas as pd
out = sys.argv[1]
df = pd.read_csv(f"{out}/ctr.csv").sample(n=3000, random_state=0).reset_index(drop=True)
df.loc[:199, "user"] = 10**9 + df.index[:200]          # cold users
df.loc[150:349, "item"] = 10**9 + df.index[150:350]    # cold items (50 rows both)
df.to_csv(f"{out}/ctr3000.csv", index=False)
PY
"$BIN" score "$OUT/onnx-run" "$OUT/ctr3000.csv" -o "$OUT/scored.csv" 2>/dev/null
$CHECK onnx --run "$OUT/onnx-run" --scored "$OUT/scored.csv"
[ -n "${BENCH_DIR:-}" ] || rm -rf "$OUT"
