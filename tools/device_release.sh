#!/usr/bin/env bash
# Train, choose and export SpectroGAN's pretrained generators in one call on a GPU machine.
#
# Made for the lent H200 machines (JAX, no TensorFlow, 10 minutes a command, files back at most
# 8 per call and 16 MiB each), and runs anywhere else with JAX. From the repository root:
#
#   python tools/pack_ravdess.py --ravdess ../shared/data/ravdess --out .carry/ravdess  # 41 MiB
#   (wheels the machine lacks go into .whl/, see tools/README.md)
#   device run, carry [.carry, .whl, results/.cache]:
#     OUT=$OUT PAIRS="calm2anger calm2fearful calm2happy" EPOCHS=200 tools/device_release.sh
#
# Steps: build the pairs' training sets (data_prep.py, speaker split train 01-14 / validation
# 15-16 / test 17-20), train every pair at once on the one GPU (train_cyclegan.py, a float16
# snapshot of the generator every SNAPSHOT_EVERY epochs), pick each pair's epoch on the
# validation actors and install it (evaluate.py --select-epoch), and leave under $OUT:
#   <pair>/generator_AtoB.weights.h5   the chosen generator, float16 (~15.7 MB at 6 blocks)
#   meta.tar.gz                        <pair>/{config.json, selection.json, selection.md,
#                                      log.csv, train.log, timing.txt}
# Install here with: for d in FILES_AT/*/; do cp -r "$d" results/; done;
#                    tar -xzf FILES_AT/meta.tar.gz -C results/
#
# Settings (environment variables, defaults in brackets):
#   PAIRS [the six calm2X pairs]   EPOCHS [200]   BATCH [8]   SNAPSHOT_EVERY [10]
#   RES_BLOCKS [6]   FILTERS [64]   PRECISION [bfloat16]   STEPS_PER_EPOCH [one pass]
#   TRAIN_SECONDS [420: training is stopped (Ctrl-C, resumable) after this, to leave time
#   for the selection]   EVAL_LIMIT [all validation clips]   EVAL_JOBS [nproc]
#   RAVDESS [.carry/ravdess]   WHEELS [.whl]   WORK [/tmp/spectrogan_release]   OUT (required)
set -euo pipefail

: "${OUT:?set OUT to the folder that should receive the results}"
PAIRS=${PAIRS:-"calm2anger calm2fearful calm2happy calm2sad calm2disgust calm2surprised"}
EPOCHS=${EPOCHS:-200}
BATCH=${BATCH:-8}
SNAPSHOT_EVERY=${SNAPSHOT_EVERY:-10}
RES_BLOCKS=${RES_BLOCKS:-6}
FILTERS=${FILTERS:-64}
PRECISION=${PRECISION:-bfloat16}
STEPS_PER_EPOCH=${STEPS_PER_EPOCH:-}
TRAIN_SECONDS=${TRAIN_SECONDS:-420}
EVAL_LIMIT=${EVAL_LIMIT:-}
EVAL_JOBS=${EVAL_JOBS:-$(nproc)}
RAVDESS=${RAVDESS:-.carry/ravdess}
WHEELS=${WHEELS:-.whl}
WORK=${WORK:-/tmp/spectrogan_release}

if [ -d "$WHEELS" ] && compgen -G "$WHEELS/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "$WHEELS"/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
# Several trainers share the GPU: JAX must not claim 75% of its memory for each.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
[ -d "$RAVDESS" ] || { echo "error: $RAVDESS: no RAVDESS tree; run tools/pack_ravdess.py" >&2; exit 2; }

mkdir -p "$WORK/data" "$WORK/runs" "$OUT"
for pair in $PAIRS; do
    python3 data_prep.py --ravdess "$RAVDESS" --pair "$pair" --out "$WORK/data"
done

steps=()
[ -n "$STEPS_PER_EPOCH" ] && steps=(--steps-per-epoch "$STEPS_PER_EPOCH")
for pair in $PAIRS; do
    mkdir -p "$WORK/runs/$pair"
    (
        start=$(date +%s.%N)
        status=0
        timeout --signal=INT --kill-after=60 "$TRAIN_SECONDS" \
            python3 train_cyclegan.py --pair "$pair" --data-dir "$WORK/data" \
                --out "$WORK/runs/$pair" --epochs "$EPOCHS" --batch-size "$BATCH" \
                --res-blocks "$RES_BLOCKS" --filters "$FILTERS" \
                --mixed-precision "$PRECISION" --snapshot-every "$SNAPSHOT_EVERY" \
                --sample-every 0 --quiet "${steps[@]}" || status=$?
        end=$(date +%s.%N)
        echo "pair=$pair exit=$status seconds=$(awk "BEGIN {print $end - $start}")" \
            >"$WORK/runs/$pair/timing.txt"
    ) >"$WORK/runs/$pair/train.log" 2>&1 &
done
wait
for pair in $PAIRS; do
    cat "$WORK/runs/$pair/timing.txt"
    tail -n 3 "$WORK/runs/$pair/train.log"
done

# The feature cache of the real clips (results/.cache, carried) spares the one-off pass.
if [ -d results/.cache ] && [ ! -d "$WORK/eval/.cache" ]; then
    mkdir -p "$WORK/eval" && cp -r results/.cache "$WORK/eval/.cache"
fi
limit=()
[ -n "$EVAL_LIMIT" ] && limit=(--limit "$EVAL_LIMIT")
# One pair at a time: the first fills the shared feature cache the others then reuse.
for pair in $PAIRS; do
    python3 evaluate.py --pair "$pair" --select-epoch --models "$WORK/runs" \
        --ravdess "$RAVDESS" --out "$WORK/eval" --jobs "$EVAL_JOBS" --no-asr "${limit[@]}" \
        || echo "selection failed for $pair"
done

meta=()
for pair in $PAIRS; do
    run="$WORK/runs/$pair"
    [ -f "$run/selection.json" ] || continue
    mkdir -p "$OUT/$pair"
    cp "$run/generator_AtoB.weights.h5" "$OUT/$pair/"
    for name in config.json selection.json selection.md log.csv train.log timing.txt; do
        [ -f "$run/$name" ] && meta+=("$pair/$name")
    done
done
if [ ${#meta[@]} -gt 0 ]; then
    tar -czf "$OUT/meta.tar.gz" -C "$WORK/runs" "${meta[@]}"
fi
ls -l "$OUT" "$OUT"/*/ 2>/dev/null || true
