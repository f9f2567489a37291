#!/usr/bin/env bash
# Benchmarks against the reference peers (../shared/peers), same data, same machine, same run.
#
#   benches/peers.sh [PEERS_VENV]      (default /tmp/peers-venv, made by ../shared/peers/setup.sh)
#
# Runs each pair back to back with 2 threads and prints one line per measurement; the ratios in
# the README come from this script. Needs ../shared/data and an idle machine (timings are
# sensitive to other load: the load average is printed first).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-/tmp/peers-venv}"
PEERS="$(cd ../shared/peers && pwd)"
PY="$VENV/bin/python"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clickrec/target}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/clickrec"
OUT="$(mktemp -d)"
export RAYON_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"

ours() { # config, extra --set args...; prints the metrics.json path
  local cfg=$1; shift
  "$BIN" train "$cfg" -q --force --set output.dir="$OUT/run" "$@" > /dev/null
  echo "$OUT/run/metrics.json"
}
jq_py() { "$PY" -c "import json,sys; m=json.load(open(sys.argv[1])); print($2)" "$1"; }

# NCF, CTR mode, ml-100k CTR log, 5 epochs, emb 8, batch 512.
peer=$(cd "$PEERS" && "$PY" ncf_torch.py --ctr-csv ../data/ml-100k-ctr/impressions.csv --features all --epochs 5 --threads 2 2>/dev/null | tail -1)
m=$(ours configs/ml-100k-ctr.toml)
"$PY" - "$m" "$peer" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); p = json.loads(sys.argv[2])
t = m["timings"]["ncf"]; n = m["models"]["ncf"]
print(f"ncf ctr ml-100k: clickrec {t['samples_per_sec']:,.0f} samples/s, peer {p['samples_per_second']:,.0f} -> {t['samples_per_sec']/p['samples_per_second']:.2f}x; "
      f"AUC clickrec {n['auc']:.4f} peer {p['metrics']['auc']:.4f}")
PY

# NCF, implicit, ml-100k, 3 epochs, 4 negatives (peer settings: no popularity feature).
peer=$(cd "$PEERS" && "$PY" ncf_torch.py --implicit ml-100k --epochs 3 --threads 2 2>/dev/null | tail -1)
m=$(ours configs/movielens-100k.toml --set ncf.epochs=3 --set ncf.item_popularity=false --set als.enabled=false)
"$PY" - "$m" "$peer" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); p = json.loads(sys.argv[2])
t = m["timings"]["ncf"]; n = m["models"]["ncf"]; pm = p["metrics"]
print(f"ncf implicit ml-100k: clickrec {t['samples_per_sec']:,.0f} samples/s, peer {p['samples_per_second']:,.0f} -> {t['samples_per_sec']/p['samples_per_second']:.2f}x; "
      f"full HR@10 {n['hr_at_k']:.4f} vs {pm['ncf_full_ranking']['hr@10']:.4f}, sampled {n['sampled']['hr']:.4f} vs {pm['ncf_sampled']['hr@10']:.4f}")
PY

# ALS, implicit's settings (factors 64, reg 0.01, alpha 1, 15 iterations, CG, linear confidence).
als() { # label, config, peer args...
  local label=$1 cfg=$2; shift 2
  local peer; peer=$(cd "$PEERS" && "$PY" als_implicit.py "$@" --threads 2 2>/dev/null | tail -1)
  local best=""
  for _ in 1 2 3; do # median of 3 fits, like the peer
    m=$(ours "$cfg" --set popularity.enabled=false --set ncf.enabled=false)
    best="$best $(jq_py "$m" 'm["timings"]["als"]["fit_seconds"]')"
  done
  "$PY" - "$m" "$peer" "$label" $best <<'PY'
import json, sys, statistics
m = json.load(open(sys.argv[1])); p = json.loads(sys.argv[2]); fits = [float(x) for x in sys.argv[4:]]
ours = statistics.median(fits)
print(f"als {sys.argv[3]}: clickrec fit {ours:.3f} s ({ours/15:.4f} s/it), implicit {p['fit_seconds']:.3f} s ({p['seconds_per_iteration']:.4f} s/it) -> {ours/p['fit_seconds']:.2f}x time; "
      f"HR@10 {m['models']['als']['hr_at_k']:.4f} vs {p['metrics']['als']['hr@10']:.4f}")
PY
}
als deskdrop configs/deskdrop.toml --dataset deskdrop
als ml-100k configs/movielens-100k.toml --dataset ml-100k
if [ -n "${ALS_LARGE_CSV:-}" ]; then # e.g. a 10M-row user,item,timestamp,weight CSV from `clickrec generate`
  printf 'name = "large"\n[data]\npath = "%s"\nweight = "weight"\n[als]\nconfidence = "linear"\n' "$ALS_LARGE_CSV" > "$OUT/large.toml"
  als large "$OUT/large.toml" --dataset csv --input "$ALS_LARGE_CSV"
fi
# ALS at 64, 256 and 1024 factors on ALS_WIDE_CSV (e.g. 1 M interactions: benches/als_1m.py),
# equal settings (linear confidence, alpha 1, reg 0.01, CG 3 steps), seconds per iteration. 64 is
# clickrec's one-row CG, 256 and 1024 its blocked CG (from 96 factors on, src/als/cg.rs).
if [ -n "${ALS_WIDE_CSV:-}" ]; then
  printf 'name = "wide"\n[data]\npath = "%s"\nweight = "weight"\n[popularity]\nenabled = false\n[als]\nconfidence = "linear"\n' "$ALS_WIDE_CSV" > "$OUT/wide.toml"
  for f in 64 256 1024; do
    it=$(case $f in 64) echo 15 ;; 1024) echo 2 ;; *) echo 5 ;; esac)
    peer=$(cd "$PEERS" && "$PY" als_implicit.py --dataset csv --input "$ALS_WIDE_CSV" --factors "$f" --iterations "$it" --repeats 1 --threads 2 2>/dev/null | tail -1)
    m=$(ours "$OUT/wide.toml" --set als.factors="$f" --set als.iterations="$it")
    "$PY" - "$m" "$peer" "$f" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); p = json.loads(sys.argv[2]); t = m["timings"]["als"]
print(f"als {sys.argv[3]} factors, {m['split']['train_pairs']:,} train pairs: clickrec {t['seconds_per_iteration']:.3f} s/it, implicit {p['seconds_per_iteration']:.3f} s/it -> {t['seconds_per_iteration']/p['seconds_per_iteration']:.2f}x time")
PY
  done
fi
rm -rf "$OUT"
