#!/usr/bin/env bash
# clickrec's NCF over fields / DeepFM / DCNv2 against the reference CTR library (FuxiCTR 2.3.7, ../shared/peers/
# ctr_fuxictr.py) on the multi-field ml-100k log, same files, same run, 3 seeds.
#
#   benches/ctr_fields.sh PEERS_VENV FUXICTR_GIT [SEEDS...]
#
# PEERS_VENV: the peers' virtualenv (../shared/peers/setup.sh DIR); FUXICTR_GIT: a git directory
# of github.com/reczoo/FuxiCTR with tag v2.3.7. Writes ../bench/ml100k-fields/seedS/ (data) and
# prints one table row per seed and model: validation and test AUC / log loss and train seconds.
# clickrec's chosen row is the model (ncf, deepfm or dcnv2) with the best validation AUC; the library's is
# its DeepFM and DCNv2 (its own early stopping on the same valid file). THREADS=2 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:?peers venv}
GIT=${2:?FuxiCTR git dir}
shift 2
SEEDS=${*:-1 2 3}
THREADS=${THREADS:-2}
PEERS=../shared/peers
BIN=${BIN:-target/release/clickrec}
[ -x "$BIN" ] || cargo build --release
OUT=../bench/ml100k-fields
for s in $SEEDS; do
  d=$OUT/seed$s
  python3 benches/ml100k_fields.py ../shared/data/ml-100k "$d" --seed "$s" > /dev/null
  start=$(date +%s.%N)
  RAYON_NUM_THREADS=$THREADS "$BIN" train configs/ml-100k-fields.toml -q --force \
    --set "split.train_path=\"$(realpath $d/train.csv)\"" \
    --set "split.valid_path=\"$(realpath $d/valid.csv)\"" \
    --set "split.test_path=\"$(realpath $d/test.csv)\"" \
    --set "output.dir=\"$(realpath -m $d/run)\"" > /dev/null
  end=$(date +%s.%N)
  python3 - "$d/run/metrics.json" "$s" "$start" "$end" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); seed = sys.argv[2]
wall = float(sys.argv[4]) - float(sys.argv[3])
ks = [k for k in ("ncf", "deepfm", "dcnv2") if k in m["models"]]
best = max(ks, key=lambda k: m["models"][k]["validation"]["auc"])
for k in ks:
    x = m["models"][k]; v = x["validation"]; t = m["timings"][k]
    # Train time to the best epoch (the reference library's train_seconds covers all epochs run).
    to_best = sum(t["epoch_seconds"][: v["best_epoch"]])
    tag = " (chosen on validation)" if k == best else ""
    print(f"| {seed} | clickrec {k}{tag} | {v['auc']:.4f} / {v['logloss']:.4f} | {x['auc']:.4f} / {x['logloss']:.4f} | best epoch {v['best_epoch']}, {to_best:.1f} s to it, {sum(t['epoch_seconds']):.1f} s in all (whole run {wall:.1f} s) |")
PY
  OMP_NUM_THREADS=$THREADS "$VENV/bin/python" $PEERS/ctr_fuxictr.py --train "$d/train.csv" --valid "$d/valid.csv" \
    --test "$d/test.csv" --label label --categorical user,item,gender,age,occupation,zip,release_year \
    --sequence genres --models DeepFM,DCNv2 --threads "$THREADS" --work "$d/fuxictr" \
    --fuxictr-git "$GIT" 2> "$d/fuxictr.log" | python3 -c "
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(f\"| $s | FuxiCTR {r['model']} | {r['valid_auc']:.4f} / {r['valid_logloss']:.4f} | {r['test_auc']:.4f} / {r['test_logloss']:.4f} | best epoch {r['best_epoch']} of {r['epochs']}, {r['train_seconds']:.1f} s |\")
"
done
