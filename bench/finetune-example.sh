#!/bin/sh
# Pretrain on the NCT-CRC-HE tiles, then fine-tune on the Kather 2016 tiles (--init from the
# pretraining checkpoint: its 9-class classifier is re-initialised for 8 classes), against the same
# training from scratch; both evaluated on the same held-out Kather test split.
#   sh bench/finetune-example.sh [WORK_DIR]     (default /tmp/senet-ort-finetune; about 10 minutes on 2 cores)
set -eu
W=${1:-/tmp/senet-ort-finetune}
SHARED=${SHARED:-../shared/data}
CLI="node dist/cli/main.js"
COMMON="--arch resnet20 --input 3x64x64 --batch-size 16 --schedule cosine --threads 2 --workers 1"
mkdir -p "$W"
# --tile 150: the 150 px crop of each 224 px tile that the figures in RESULTS.md were made with (without
# --tile, tiles of one size now pass through whole).
$CLI tile "$SHARED/nct-crc-he" "$W/nct" --tile 150 --split --test-fraction 0.1 --folds 5
$CLI tile "$SHARED/kather2016-crc-texture" "$W/kather" --split --group-regex 'CRC-Prim-HE-\d+'
# 1. Pretraining: one fold of NCT-CRC-HE (9 classes), 30 epochs.
$CLI ort-train --data "$W/nct" --out "$W/pretrain" $COMMON --fold 1 --epochs 30 --lr 0.05
PRE="$W/pretrain/fold-1/checkpoints/epoch-30.safetensors"
# 2. Kather 2016 (8 classes), 4 folds, 8 epochs: from the pretrained weights, and from scratch.
$CLI ort-train --data "$W/kather" --out "$W/finetune" $COMMON --epochs 8 --lr 0.02 --init "$PRE"
$CLI ort-train --data "$W/kather" --out "$W/scratch" $COMMON --epochs 8 --lr 0.02
$CLI evaluate "$W/finetune" --threads 2
$CLI evaluate "$W/scratch" --threads 2
$CLI compare "$W/scratch" "$W/finetune"
