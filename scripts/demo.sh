#!/usr/bin/env bash
# The main job, offline, in about two minutes on 2 cores:
#   1. set up .venv (no-op when it is already installed),
#   2. train an LSTM on the S&P 500 daily sample shipped with data-fetcher
#      (held-out test part: the last 15 %), with a loss/prediction plot,
#   3. replay that held-out part as a live feed for 300 ticks (no waiting), rolling the
#      interval calibration over the last 250 realized outcomes, and print the live
#      metrics (MAE vs persistence, direction hit rate, interval coverage).
# Outputs go to ./out/ (gitignored): model.safetensors, model.history.json, train.png,
# predictions.jsonl. Usage: bash scripts/demo.sh   (EPOCHS=N to change the epochs)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
rm -f out/predictions.jsonl
SA=.venv/bin/stock-analyzer
echo "== train (stock-analyzer train --source sample --symbol ^GSPC --period max --interval 1d)"
"$SA" train --source sample --symbol ^GSPC --period max --interval 1d \
    --epochs "${EPOCHS:-20}" --seed 0 --output out/model.safetensors --plot out/train.png \
    --registry out/models
echo
echo "== live loop on the held-out part (stock-analyzer predict --source replay --max-ticks 300 --recalibrate 250)"
"$SA" predict --model out/model.safetensors --source replay --max-ticks 300 --recalibrate 250 \
    --log out/predictions.jsonl --quiet
echo
echo "last prediction logged in out/predictions.jsonl:"
grep '"type": "prediction"' out/predictions.jsonl | tail -n 1
