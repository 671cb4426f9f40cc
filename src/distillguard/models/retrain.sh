#!/usr/bin/env bash
# Rebuild the shipped default account model (src/distillguard/models/default.json).
# Training data: simulated scenarios and seeds used for nothing else; the held-out
# scenarios (heldout-evasive, heldout-mix, incident-2026) and evaluation seeds never are.
# Usage: bash src/distillguard/models/retrain.sh [WORKDIR]   (about 10 min on 2 cores)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-train-data}"
dg="${DISTILLGUARD:-distillguard}"
mkdir -p "$work"
truths=()
for spec in "default 1" "default 2" "$here/training/train-varied-a.yaml 11" \
            "$here/training/train-varied-a.yaml 12" "$here/training/train-varied-b.yaml 21"; do
  set -- $spec
  out="$work/$(basename "$1" .yaml)-$2"
  [ -f "$out/truth.csv" ] || "$dg" simulate --scenario "$1" --seed "$2" --out "$out"
  truths+=(--truth "$out")
done
"$dg" train "${truths[@]}" --out "$here/default.json"
