#!/usr/bin/env bash
# Re-run the quality figures the README quotes (Bench and Recency tables) from the shared data
# (../shared/data beside the clone) and print them in the README's table format, so the README
# can be checked against (or refreshed from) the final build.
#
#   cargo build --release && benches/readme_figures.sh [CLICKREC_BIN]
#
# Takes a few minutes on 2 cores (the DeskDrop tuning run is the longest). Figures are seed 42.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/clickrec}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# run NAME COMMAND CONFIG [ARGS...]: a run into $OUT/NAME.
run() {
  local name=$1 cmd=$2 cfg=$3
  shift 3
  "$BIN" "$cmd" "$cfg" -q --force --set "output.dir=\"$OUT/$name\"" "$@" >/dev/null
}

# get NAME KEY...: metrics.json values at dotted keys (models.ncf.auc), 4 decimals, joined by " / ".
get() {
  python3 - "$OUT/$1/metrics.json" "${@:2}" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
out = []
for key in sys.argv[2:]:
    v = m
    for part in key.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    out.append("–" if v is None else f"{v:.4f}")
print(" / ".join(out))
PY
}

run ctr train configs/ml-100k-ctr.toml
run ml train configs/movielens-100k.toml
run ml_tuned train configs/movielens-100k-tuned.toml
run dd_tuned train configs/deskdrop-tuned.toml
run dd_tune tune configs/deskdrop-tune.toml

echo "| what | clickrec | reference |"
echo "|---|---|---|"
echo "| NCF CTR, ml-100k: test AUC (\`configs/ml-100k-ctr.toml\`) | $(get ctr models.ncf.auc) | popularity $(get ctr models.popularity.auc) |"
echo "| NCF implicit, ml-100k: full-ranking HR@10 / sampled 1+99 HR@10 (\`configs/movielens-100k.toml\`) | $(get ml models.ncf.hr_at_k models.ncf.sampled.hr) | popularity $(get ml models.popularity.hr_at_k) |"
echo "| NCF implicit, ml-100k, tuned (\`movielens-100k-tuned.toml\`): full HR@10 | $(get ml_tuned models.ncf.hr_at_k) | popularity $(get ml_tuned models.popularity.hr_at_k), recent popularity $(get ml_tuned models.recent_popularity.hr_at_k) |"
echo "| ALS HR@10, tuned (\`deskdrop-tuned.toml\`, \`movielens-100k-tuned.toml\`) | $(get dd_tuned models.als.hr_at_k) / $(get ml_tuned models.als.hr_at_k) | |"
echo
echo "| data | popularity | recent popularity | tuned ALS (\`deskdrop-tune.toml\`) |"
echo "|---|---|---|---|"
echo "| ml-100k HR@10 / NDCG@10 | $(get ml models.popularity.hr_at_k models.popularity.ndcg_at_k) | $(get ml models.recent_popularity.hr_at_k models.recent_popularity.ndcg_at_k) (7 d, the default) | |"
echo "| DeskDrop HR@10 / NDCG@10 | $(get dd_tune models.popularity.hr_at_k models.popularity.ndcg_at_k) | $(get dd_tune models.recent_popularity.hr_at_k models.recent_popularity.ndcg_at_k) (half-life chosen on validation: $(python3 -c "import json;print(json.load(open('$OUT/dd_tune/metrics.json'))['tuning'].get('recent_half_life_days'))") d) | $(get dd_tune models.als.hr_at_k models.als.ndcg_at_k) |"
