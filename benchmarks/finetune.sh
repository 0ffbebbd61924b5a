#!/bin/bash
# Full `rasa train` against `rasa train --finetune` after adding three examples to data/nlu/en.yml
# (issue 20 point 6). Runs in a copy of the committed tree, so the added examples never reach the
# checkout; prints the load before each run, both wall times and their ratio.
# Usage: benchmarks/finetune.sh [work folder, default a new temporary one]
set -euo pipefail
repo=$(git rev-parse --show-toplevel)
work=${1:-$(mktemp -d /tmp/cs-finetune-bench.XXXXXX)}
mkdir -p "$work"
git -C "$repo" archive HEAD | tar -x -C "$work"
ln -sfn "$(readlink -f "$repo/.venv")" "$work/.venv"
cd "$work"
export PYTHONPATH=$PWD SANIC_HOST=127.0.0.1 RASA_TELEMETRY_ENABLED=false RASA_CACHE_DIRECTORY=$work/cache
echo "hardware: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
seconds() { local start=$SECONDS; "$@" > "$work/$name.log" 2>&1; echo $((SECONDS - start)); }
echo "full train, load: $(uptime)"
name=full; full=$(seconds .venv/bin/rasa train --out models --fixed-model-name full)
python3 - <<'PY'
path = "data/nlu/en.yml"
text = open(path, encoding="utf-8").read()
added = "    - any news on my parcel\n    - has the order left your warehouse yet\n    - my delivery still hasn't shown up\n"
open(path, "w", encoding="utf-8").write(text.replace("    - where is my order\n", "    - where is my order\n" + added, 1))
PY
echo "finetune, load: $(uptime)"
name=finetune; finetune=$(seconds .venv/bin/rasa train --finetune models/full.tar.gz --out models --fixed-model-name finetune)
grep -h "cs_transformer.finetune.encode" "$work/finetune.log" || true
echo "full rasa train: ${full} s; rasa train --finetune: ${finetune} s; ratio $(python3 -c "print(round($finetune / $full, 3))")"
