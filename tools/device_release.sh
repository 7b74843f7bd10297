#!/usr/bin/env bash
# Train, choose and export SpectroGAN's pretrained generators in one call on a GPU machine,
# within one deadline, bringing back whatever is done even when something fails.
#
# Made for the lent GPU machines (JAX, no TensorFlow, 10 minutes a command, at most 8 files of
# 16 MiB back per call), and runs anywhere with JAX. From the repository root (recipe and
# carry list in tools/README.md):
#
#   PREFLIGHT=1 OUT=$OUT tools/device_release.sh          # < 60 s: versions, GPU, step time, memory
#   OUT=$OUT PEAK_MIB=... tools/device_release.sh         # the release: six pairs in 540 s
#
# Time line, counted from this script's start (TIME_BUDGET seconds in all):
#   1. the pairs' training sets (data_prep.py, speakers 01-14 train / 15-16 validation /
#      17-20 test), built in parallel;
#   2. every pair trained at once on the one device (train_cyclegan.py --preset PRESET
#      --time-budget: each stops cleanly after the update in which its share runs out, with a
#      float16 snapshot every SNAPSHOT_EVERY epochs and of its last epoch); the last
#      SELECT_SECONDS are reserved for step 3;
#   3. each pair's epoch chosen on the validation actors (evaluate.py --select-epoch over at
#      most MAX_SNAPSHOTS of its newest snapshots), the pairs in parallel, each cut off by
#      `timeout` before the deadline; a failed or cut-off selection exports the newest snapshot
#      instead and says so.
# $OUT is filled as it goes: as soon as a pair's training ends, <pair>.tar.gz holds its newest
# snapshot and its logs; after the selection it is replaced by the chosen epoch. Each archive
# unpacks to <pair>/{generator_AtoB.weights.h5, config.json, selection.json, selection.md,
# log.csv, release.txt, logs/{data,train,select}.log}; a pair that failed before any snapshot
# still gets an archive with its logs. $OUT/release.txt sums up every pair. Exit 0 when every
# pair brought back a generator, 1 otherwise, 2 for a setting that cannot work.
#
# Settings (environment variables, defaults in brackets):
#   OUT (required)   PAIRS [the six calm2X pairs]   PRESET [fast]   BATCH [8]
#   TIME_BUDGET [540]   SELECT_SECONDS [120]   STARTUP_SECONDS [40: imports and compilation
#   before a trainer's clock starts]   SNAPSHOT_EVERY [10]   MAX_SNAPSHOTS [4]
#   EPOCHS [100000: the deadline ends training]   PRECISION [bfloat16]
#   FILTERS, RES_BLOCKS, STEPS_PER_EPOCH [the preset's]   EVAL_LIMIT [all validation clips]
#   EVAL_JOBS [2 per pair]   PEAK_MIB, PEAK_BATCH [from the preflight: refuse pairs that
#   would not fit]   DEVICE_MIB [from nvidia-smi]   PREFLIGHT [0]   ALLOW_CPU [0]
#   RAVDESS [.carry/ravdess]   WHEELS [.whl]   WORK [/tmp/spectrogan_release]   PYTHON [python3]
set -uo pipefail  # not -e: one pair's failure must not stop the others

START=$(date +%s)
: "${OUT:?set OUT to the folder that should receive the results}"
PAIRS=${PAIRS:-"calm2anger calm2fearful calm2happy calm2sad calm2disgust calm2surprised"}
PRESET=${PRESET:-fast}
BATCH=${BATCH:-8}
TIME_BUDGET=${TIME_BUDGET:-540}
SELECT_SECONDS=${SELECT_SECONDS:-120}
STARTUP_SECONDS=${STARTUP_SECONDS:-40}
TERM_GRACE=20  # seconds a trainer has to save after SIGTERM before it is killed
SNAPSHOT_EVERY=${SNAPSHOT_EVERY:-10}
MAX_SNAPSHOTS=${MAX_SNAPSHOTS:-4}
EPOCHS=${EPOCHS:-100000}
PRECISION=${PRECISION:-bfloat16}
FILTERS=${FILTERS:-}
RES_BLOCKS=${RES_BLOCKS:-}
STEPS_PER_EPOCH=${STEPS_PER_EPOCH:-}
EVAL_LIMIT=${EVAL_LIMIT:-}
EVAL_JOBS=${EVAL_JOBS:-2}
PEAK_MIB=${PEAK_MIB:-}
PEAK_BATCH=${PEAK_BATCH:-$BATCH}
DEVICE_MIB=${DEVICE_MIB:-}
PREFLIGHT=${PREFLIGHT:-0}
ALLOW_CPU=${ALLOW_CPU:-0}
RAVDESS=${RAVDESS:-.carry/ravdess}
WHEELS=${WHEELS:-.whl}
WORK=${WORK:-/tmp/spectrogan_release}
PYTHON=${PYTHON:-python3}
EXPORT_SECONDS=15  # kept at the very end for the last archives and the summary

left() { echo $(( START + TIME_BUDGET - $(date +%s) )); }
say() { echo "[$(( $(date +%s) - START ))s] $*"; }
usage_error() { echo "error: $*" >&2; exit 2; }

read -r -a pairs <<<"$PAIRS"
[ ${#pairs[@]} -gt 0 ] || usage_error "PAIRS is empty"
[ "$TIME_BUDGET" -gt $(( SELECT_SECONDS + STARTUP_SECONDS + EXPORT_SECONDS )) ] \
    || usage_error "TIME_BUDGET=$TIME_BUDGET leaves no time to train after SELECT_SECONDS=$SELECT_SECONDS, STARTUP_SECONDS=$STARTUP_SECONDS and $EXPORT_SECONDS s of export"
mkdir -p "$OUT" "$WORK/data" "$WORK/runs" "$WORK/eval" || exit 1

# Wheels the machine lacks (tools/fetch_wheels.sh): only distributions not installed already,
# so the machine's own builds of JAX's dependencies are never shadowed.
if [ -d "$WHEELS" ] && compgen -G "$WHEELS/*.whl" >/dev/null; then
    missing=()
    for wheel in "$WHEELS"/*.whl; do
        dist=$(basename "$wheel" | cut -d- -f1)
        "$PYTHON" -c 'import importlib.metadata as m, sys; m.version(sys.argv[1])' "$dist" \
            2>/dev/null || missing+=("$wheel")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --target /tmp/site "${missing[@]}" || exit 1
        export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
    fi
    say "wheels: ${#missing[@]} installed, the others already present"
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 ALLOW_CPU
# Several trainers share the device: JAX must not claim 75% of its memory for each.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

if [ "$PREFLIGHT" = 1 ]; then
    timeout 180 "$PYTHON" tools/release_preflight.py --preset "$PRESET" --batch "$BATCH" \
        --pairs ${#pairs[@]} --precision "$PRECISION" --json "$OUT/preflight.json" \
        2>&1 | tee "$OUT/preflight.txt"
    exit "${PIPESTATUS[0]}"
fi

[ -d "$RAVDESS" ] || usage_error "$RAVDESS: no RAVDESS tree; run tools/pack_ravdess.py and carry it"
"$PYTHON" - <<'EOF' || usage_error "JAX does not compute on a GPU here (set ALLOW_CPU=1 to run on the CPU anyway)"
import os, jax
assert jax.devices()[0].platform == "gpu" or os.environ.get("ALLOW_CPU") == "1"
EOF
if [ -n "$PEAK_MIB" ]; then
    if [ -z "$DEVICE_MIB" ] && command -v nvidia-smi >/dev/null; then
        DEVICE_MIB=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -n 1)
    fi
    if [ -n "$DEVICE_MIB" ]; then
        need=$(( ${#pairs[@]} * PEAK_MIB * BATCH / PEAK_BATCH ))
        [ $(( need * 10 )) -le $(( DEVICE_MIB * 9 )) ] \
            || usage_error "${#pairs[@]} pairs at batch $BATCH need about $need MiB (measured peak $PEAK_MIB MiB at batch $PEAK_BATCH each), more than 90% of the device's $DEVICE_MIB MiB; train fewer PAIRS or a smaller BATCH"
        say "memory: ${#pairs[@]} x ~$(( PEAK_MIB * BATCH / PEAK_BATCH )) MiB of $DEVICE_MIB MiB"
    fi
else
    say "memory: not checked (no PEAK_MIB; PREFLIGHT=1 measures it)"
fi

# export_pair PAIR NOTE: (re)write $OUT/PAIR.tar.gz from what the pair has now: the run
# folder's generator when a selection installed one, else its newest snapshot, else logs only.
export_pair() {
    local pair=$1 note=$2 run="$WORK/runs/$1" stage="$WORK/export/$1" source=""
    rm -rf "$stage" && mkdir -p "$stage/logs"
    if [ -f "$run/selection.json" ] && [ -f "$run/generator_AtoB.weights.h5" ]; then
        source=$run
        cp "$run/selection.json" "$run/selection.md" "$stage/" 2>/dev/null
    else
        source=$(ls -d "$run"/snapshots/epoch_* 2>/dev/null | sort | tail -n 1)
    fi
    if [ -n "$source" ] && [ -f "$source/generator_AtoB.weights.h5" ]; then
        cp "$source/generator_AtoB.weights.h5" "$source/config.json" "$stage/"
    fi
    [ -f "$run/log.csv" ] && cp "$run/log.csv" "$stage/"
    for name in data train select; do
        [ -f "$WORK/logs/$pair.$name.log" ] && cp "$WORK/logs/$pair.$name.log" "$stage/logs/$name.log"
    done
    echo "$note" >"$stage/release.txt"
    tar -czf "$OUT/.$pair.tar.gz.tmp" -C "$WORK/export" "$pair" \
        && mv -f "$OUT/.$pair.tar.gz.tmp" "$OUT/$pair.tar.gz"
}

mkdir -p "$WORK/logs"
say "1/3 training sets for ${pairs[*]}"
for pair in "${pairs[@]}"; do
    "$PYTHON" data_prep.py --ravdess "$RAVDESS" --pair "$pair" --out "$WORK/data" \
        >"$WORK/logs/$pair.data.log" 2>&1 &
done
wait

train_seconds=$(( $(left) - SELECT_SECONDS - STARTUP_SECONDS - EXPORT_SECONDS ))
[ "$train_seconds" -gt 0 ] || train_seconds=1
say "2/3 training ${#pairs[@]} pair(s) for ${train_seconds} s each (preset $PRESET, batch $BATCH)"
extra=()
[ -n "$FILTERS" ] && extra+=(--filters "$FILTERS")
[ -n "$RES_BLOCKS" ] && extra+=(--res-blocks "$RES_BLOCKS")
[ -n "$STEPS_PER_EPOCH" ] && extra+=(--steps-per-epoch "$STEPS_PER_EPOCH")
for pair in "${pairs[@]}"; do
    (
        if [ ! -f "$WORK/data/$pair.npz" ]; then
            echo "no training set (see logs/data.log)" >"$WORK/logs/$pair.train.log"
            export_pair "$pair" "$pair: FAILED: no training set was built"
            exit 0
        fi
        started=$(date +%s)
        # --time-budget ends training, checked after every update. The hard limit catches a
        # start-up or a first update (compilation) that overruns on a busy machine: it may eat
        # into the selection's window (a pair without a selection exports its newest
        # snapshot), and its SIGTERM makes the trainer stop after the update under way and
        # save it; KILL only if that has not happened TERM_GRACE seconds later.
        hard_limit=$(( $(left) - EXPORT_SECONDS - TERM_GRACE ))
        [ "$hard_limit" -gt 0 ] || hard_limit=1  # `timeout 0` would mean no limit at all
        timeout --kill-after="$TERM_GRACE" "$hard_limit" \
            "$PYTHON" train_cyclegan.py --pair "$pair" --data-dir "$WORK/data" \
                --out "$WORK/runs/$pair" --preset "$PRESET" --epochs "$EPOCHS" \
                --batch-size "$BATCH" --mixed-precision "$PRECISION" \
                --time-budget "$train_seconds" --snapshot-every "$SNAPSHOT_EVERY" \
                --checkpoint-every "$EPOCHS" --sample-every 0 --force --quiet "${extra[@]}" \
                >"$WORK/logs/$pair.train.log" 2>&1
        status=$?
        echo "train exit=$status seconds=$(( $(date +%s) - started ))" >>"$WORK/logs/$pair.train.log"
        export_pair "$pair" "$pair: provisional: newest snapshot (training exit $status; no selection yet)"
    ) &
done
wait

say "3/3 choosing epochs on the validation actors (at most $MAX_SNAPSHOTS snapshots a pair)"
# The feature cache of the real clips (results/.cache, carried) spares the one-off pass.
[ -d results/.cache ] && [ ! -d "$WORK/eval/.cache" ] && cp -r results/.cache "$WORK/eval/.cache"
limit=()
[ -n "$EVAL_LIMIT" ] && limit=(--limit "$EVAL_LIMIT")
select_seconds=$(( $(left) - EXPORT_SECONDS ))
[ "$select_seconds" -gt 0 ] || select_seconds=1
for pair in "${pairs[@]}"; do
    (
        snapshots=$(ls -d "$WORK/runs/$pair"/snapshots/epoch_* 2>/dev/null | wc -l)
        [ "$snapshots" -gt 0 ] || exit 0  # nothing to choose from; its archive says why
        timeout --kill-after=5 "$select_seconds" \
            "$PYTHON" evaluate.py --pair "$pair" --select-epoch --max-snapshots "$MAX_SNAPSHOTS" \
                --models "$WORK/runs" --ravdess "$RAVDESS" --out "$WORK/eval" \
                --jobs "$EVAL_JOBS" --no-asr --force "${limit[@]}" \
                >"$WORK/logs/$pair.select.log" 2>&1
        status=$?
        if [ $status -eq 0 ]; then
            # The verdict line of evaluate.py: "<pair>: epoch N of K snapshot(s) chosen on ..."
            export_pair "$pair" "$(grep -m 1 "^$pair: " "$WORK/logs/$pair.select.log" | sed 's/; installed as .*//')"
        else
            why=$([ $status -ge 124 ] && echo "cut off after ${select_seconds} s" || echo "failed (exit $status)")
            export_pair "$pair" "$pair: selection $why: the newest snapshot is exported instead"
        fi
    ) &
done
wait

failed=0
{
    echo "SpectroGAN release: preset $PRESET, batch $BATCH, $(( $(date +%s) - START )) s of $TIME_BUDGET"
    for pair in "${pairs[@]}"; do
        note=$(tar -xzOf "$OUT/$pair.tar.gz" "$pair/release.txt" 2>/dev/null || echo "$pair: FAILED: no archive")
        epochs=0
        [ -f "$WORK/runs/$pair/log.csv" ] && epochs=$(( $(wc -l <"$WORK/runs/$pair/log.csv") - 1 ))
        if tar -tzf "$OUT/$pair.tar.gz" "$pair/generator_AtoB.weights.h5" >/dev/null 2>&1; then
            echo "$note (epochs trained: $epochs)"
        else
            echo "$note; NO GENERATOR"
            failed=1
        fi
    done
} >"$OUT/release.txt"
cat "$OUT/release.txt"
ls -l "$OUT"
exit $failed
