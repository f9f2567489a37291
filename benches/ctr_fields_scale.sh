#!/usr/bin/env bash
# Issue 14's benchmark: the seed-sized model (emb 8, 32 -> 16 -> 1, batch 512, 1 epoch) on
# `clickrec generate --kind ctr --fields 10` logs: 11 numeric features + ten categorical fields of
# 10 to 1 M levels. Target: >= 1 M samples/s on 10 M rows; the 57 M run <= 240 s and <= 8 GB.
#
#   benches/ctr_fields_scale.sh
#
# Environment: MODEL=ncf (default; the model table: ncf, or deepfm until [ncf] takes fields of
# more than 64 levels), ROWS / USERS / ITEMS (default 10000000 / 200000 / 50000: the 10 M run),
# WORK=DIR (default a fresh temp dir; needs ~3 GB free, ~12 GB with the 57 M run), SKIP_BIG=1
# (skip the 57 M run). Prints one line per measurement. Needs an idle machine and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clickrec/target}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/clickrec"
MODEL="${MODEL:-ncf}"
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"
export RAYON_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  work: $WORK  model: [$MODEL]"

features='"user_level", "user_registered_months", "user_follow_count", "user_fans_count", "user_gender",
  "item_impressions", "item_clicks", "item_days_since_publish",
  "creator_level", "creator_followers", "creator_registered_months"'
fields='"os", "channel", "country", "city", "tag", "app", "site", "device_model", "album", "query"'
config() { # name, data path, output dir -> the seed-sized model on all features and fields
  local extra=""
  # DeepFM stand-in for [ncf]: no batch norm, no dropout, no early stopping, like the NCF run.
  [ "$MODEL" = ncf ] || extra=$'batch_norm = false\ndropout = 0.0\nearly_stopping = 0'
  cat > "$WORK/$1.toml" <<TOML
name = "$1"
seed = 1
[data]
path = "$2"
label = "is_click"
features = [$features]
categorical = [$fields]
[$MODEL]
embedding_dim = 8
hidden = [32, 16]
epochs = 1
batch_size = 512
$extra
[output]
dir = "$3"
TOML
}
json() { python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print($2)" "$1"; }
# Wall seconds and peak RSS (GB) of a command, from GNU time's -v report.
timed() { # out-file, command...
  local out=$1; shift
  /usr/bin/time -v "$@" > "$out.stdout" 2> "$out.time" || { cat "$out.time" >&2; return 1; }
  python3 - "$out.time" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) * 1024 / 1e9
w = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1).split(":")
wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
print(f"{wall:.1f} {rss:.2f}")
PY
}
run() { # users, items, rows
  local users=$1 items=$2 rows=$3 wall rss
  local tag="$((rows / 1000000))M"
  read -r wall rss < <(timed "$WORK/$tag-gen" "$BIN" generate --kind ctr --users "$users" \
    --items "$items" --rows "$rows" --days 30 --seed 1 --fields 10 -o "$WORK/$tag.parquet")
  echo "$tag generate --fields 10: ${wall} s wall, peak RSS ${rss} GB, $(du -h "$WORK/$tag.parquet" | cut -f1) parquet"
  config "$tag" "$WORK/$tag.parquet" "$WORK/$tag-run"
  read -r wall rss < <(timed "$WORK/$tag" "$BIN" train "$WORK/$tag.toml" -q --force)
  local m="$WORK/$tag-run/metrics.json"
  echo "$tag clickrec train [$MODEL]: $(printf '%.0f' "$(json "$m" "m['timings']['$MODEL']['samples_per_sec']")") samples/s (target >= 1000000), test AUC $(json "$m" "round(m['models']['$MODEL']['auc'], 4)"), whole train ${wall} s, peak RSS ${rss} GB"
  echo "$tag $(grep '^stages:' "$WORK/$tag.stdout")"
  rm -f "$WORK/$tag.parquet"
}

# --- 1. 10 M impressions, 200 k users x 50 k items, 30 days ---------------------------------
run "${USERS:-200000}" "${ITEMS:-50000}" "${ROWS:-10000000}"

# --- 2. NetEase size: 57 M impressions, 2 M users x 200 k items (targets: <= 240 s, <= 8 GB) --
if [ -z "${SKIP_BIG:-}" ]; then
  run 2000000 200000 57000000
fi
