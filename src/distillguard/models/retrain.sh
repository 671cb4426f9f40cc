#!/usr/bin/env bash
# Rebuild the shipped default account model (src/distillguard/models/default.json).
# Training data: simulated TRAINING scenarios (default, training/train-varied-{a,b,c}) at
# several scales and seeds used for nothing else, so features that move with the size of
# the population (idf of shared values, ring vs clique links, community sizes) are seen
# at every size. The held-out scenarios (heldout-evasive, heldout-mix, incident-2026) and
# the evaluation seeds (2026, 9001-9299) never are.
# Usage: bash src/distillguard/models/retrain.sh [WORKDIR]     (about 10 min on 2 cores)
#   MODEL_OUT=FILE   write the model elsewhere (default: the shipped default.json)
#   WITHOUT=ARCH     leave one campaign archetype out of the training data
#                    (leave-one-archetype-out evaluation; use with MODEL_OUT)
# The written model is byte-for-byte the same for the same package version (no clock,
# no absolute paths in its manifest; LightGBM deterministic on 2 threads).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-train-data}"
dg="${DISTILLGUARD:-distillguard}"
out="${MODEL_OUT:-$here/default.json}"
mkdir -p "$work"
truths=()
# scenario seed scale
for spec in "default 1 1.0" "default 2 0.5" "default 3 0.3" \
            "$here/training/train-varied-a.yaml 11 1.0" "$here/training/train-varied-a.yaml 12 0.4" \
            "$here/training/train-varied-b.yaml 21 0.7" "$here/training/train-varied-b.yaml 22 0.3" \
            "$here/training/train-varied-c.yaml 31 0.8" "$here/training/train-varied-c.yaml 32 0.35"; do
  set -- $spec
  dir="$work/$(basename "$1" .yaml)-$2-x$3${WITHOUT:+-without-$WITHOUT}"
  [ -f "$dir/truth.csv" ] || "$dg" simulate --scenario "$1" --seed "$2" --scale "$3" --out "$dir" ${WITHOUT:+--without $WITHOUT}
  truths+=(--truth "$dir")
done
"$dg" train "${truths[@]}" --out "$out"
