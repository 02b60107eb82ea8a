#!/usr/bin/env bash
# SPACE-SmolLM2: self-distil SmolLM2-135M-Instruct on the HumanEval-X training split (problems 0-119 of
# six languages) + the project's instruction prompts, then base-preserving SAR-SFT of an adapter
# (spec/adapter.md). Resumable: run it again after a kill or the end of a session; both stages continue
# where they stopped (distill skips the ids it has; train resumes from $RUN/run/checkpoint.gguf).
#
#   nohup setsid scripts/smollm2-space.sh > ~/.cache/space/runs/smollm2-space/log.txt 2>&1 &
#
# The code runs from a frozen build in $RUN/code (made on first start: git HEAD + this job's files), so
# work in the repository does not disturb a running job; delete $RUN/code to rebuild it on resume.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
RUN="${SPACE_RUN_DIR:-$HOME/.cache/space/runs/smollm2-space}"
MODEL="${SPACE_BASE_MODEL:-$HOME/.cache/space/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
DATA_DIR="${HUMANEVAL_X_DIR:-$REPO/data/humaneval-x}"
TRAINED="$RUN/smollm2-135m-instruct-space-k5-r16.gguf" # what training writes (rank 16)
OUT="$RUN/smollm2-135m-instruct-space-k5.gguf" # the committed adapter: TRAINED truncated to rank $KEEP_RANK
KEEP_RANK="${KEEP_RANK:-4}"
mkdir -p "$RUN"
if [ ! -f "$RUN/code/bin/space-train.mjs" ]; then
  # Snapshot: the committed tree (git HEAD) plus this job's own files from the working tree, built into
  # $RUN/code (TypeScript and both WebAssembly builds), so other work in progress never reaches the job.
  SNAP="$RUN/code-src"
  rm -rf "$SNAP" "$RUN/code" && mkdir -p "$SNAP" "$RUN/code/bin" "$RUN/code/build"
  (cd "$REPO" && git archive HEAD | tar -x -C "$SNAP")
  for f in src/model/adapter.ts src/model/forward.ts src/decode/space.ts src/train/adapter.ts src/train/prompts.ts \
           src/node/prompts.ts src/cli/train.ts; do
    cp "$REPO/$f" "$SNAP/$f"
  done
  ln -s "$REPO/node_modules" "$SNAP/node_modules"
  (cd "$SNAP" && npx tsc -p tsconfig.build.json --outDir "$RUN/code/dist" \
     && npx asc assembly/index.ts --target plain && npx asc assembly/index.ts --target relaxed)
  cp "$SNAP/build/"*.wasm "$RUN/code/build/" && cp "$SNAP/package.json" "$RUN/code/"
  cat > "$RUN/code/bin/space-train.mjs" <<'JS'
import { parseArgs } from "../dist/src/util/args.js";
import { DISTILL_OPTIONS, TRAIN_OPTIONS, runDistill, runTrain } from "../dist/src/cli/train.js";
const [cmd, ...rest] = process.argv.slice(2);
try {
  if (cmd === "distill") process.exitCode = await runDistill(parseArgs(rest, DISTILL_OPTIONS).options);
  else if (cmd === "train") process.exitCode = await runTrain(parseArgs(rest, TRAIN_OPTIONS).options);
  else throw new Error(`unknown command ${cmd}`);
} catch (e) {
  process.stderr.write(`space: ${e.code ?? "E_IO"}: ${e.message}\n`);
  process.exitCode = 1;
}
JS
fi
SPACE="node $RUN/code/bin/space-train.mjs"
# Knobs (environment; a resumed run must use the same training values as its start):
#   DATA=FILE starts from that distilled data (data/distilled/smollm2-135m-instruct-q4-train.jsonl.gz: the
#   whole training split, 760 prompts, distilled with --weights q4 on 2026-12-07 in 2 shards on 2 cores);
#   DISTILL=0 skips stage 1; DISTILL_WEIGHTS=q4 distils the q4 decoder's greedy output (10x faster than
#   native Q4_1; the 2026-12-04 data: `space distill --weights q4 --threads 2 --shard I/8` x 8 processes on a
#   16-core machine, 760 prompts in 5 minutes, the shards concatenated); DISTILL_LIMIT=N distils at most N more prompts (problem-major order, so
#   every language gets some); STEPS BATCH SAR_GROUPS LR WARMUP EVAL_EVERY shape stage 2; INIT=ADAPTER.gguf
#   starts stage 2 from a trained adapter (space train --init); WIDEN_FROM=ADAPTER.gguf starts it from that
#   adapter widened to rank 16 (scripts/truncate-adapter.ts --rank 16: the same adapter, new directions to
#   train; the committed rank-4 adapter, for example); TRAIN_THREADS (default 1) for its matmuls;
#   PREFIX_WEIGHTS=q4 runs the frozen prefix on q4 panels (space train --prefix-weights: 1.5x faster there).
if [ -n "${DATA:-}" ] && [ ! -s "$RUN/distill-train.jsonl" ]; then
  # Distilled data from elsewhere (.jsonl, or .jsonl.gz such as the repository's data/distilled/): stage 1
  # then only adds what that file lacks (distill skips the ids it has).
  case "$DATA" in *.gz) gunzip -c "$DATA" > "$RUN/distill-train.jsonl" ;; *) cp "$DATA" "$RUN/distill-train.jsonl" ;; esac
fi
if [ "${DISTILL:-1}" != 0 ]; then
  echo "$(date -Is) distill -> $RUN/distill-train.jsonl"
  $SPACE distill --model "$MODEL" --out "$RUN/distill-train.jsonl" --split train --data-dir "$DATA_DIR" \
    --max-tokens 256 --threads "${DISTILL_THREADS:-1}" --weights "${DISTILL_WEIGHTS:-native}" ${DISTILL_LIMIT:+--limit "$DISTILL_LIMIT"}
fi
if [ -n "${WIDEN_FROM:-}" ]; then
  INIT="$RUN/init-r16.gguf"
  [ -s "$INIT" ] || (cd "$REPO" && npx tsx scripts/truncate-adapter.ts --adapter "$WIDEN_FROM" --rank 16 --out "$INIT" --model "$MODEL")
fi
echo "$(date -Is) train -> $TRAINED"
$SPACE train --model "$MODEL" --weights f32 --data "$RUN/distill-train.jsonl" --run-dir "$RUN/run" --out "$TRAINED" \
  --k 5 --rank 16 --steps "${STEPS:-1200}" --batch "${BATCH:-4}" --groups "${SAR_GROUPS:-32}" --lr "${LR:-1e-3}" \
  --warmup "${WARMUP:-50}" --max-prefix 640 --checkpoint-every 10 --eval-every "${EVAL_EVERY:-100}" \
  --eval-prompts 6 --eval-tokens 96 --data-dir "$DATA_DIR" --threads "${TRAIN_THREADS:-1}" ${INIT:+--init "$INIT"} ${PREFIX_WEIGHTS:+--prefix-weights "$PREFIX_WEIGHTS"}
# Rank truncation (src/train/lowrank.ts): each LoRA term's best rank-$KEEP_RANK approximation. At rank 4 the
# SmolLM2 adapter keeps 97% of its terms' energy and its held-out acceptance, and a mask row costs far less.
echo "$(date -Is) truncate to rank $KEEP_RANK -> $OUT"
(cd "$REPO" && npx tsx scripts/truncate-adapter.ts --adapter "$TRAINED" --rank "$KEEP_RANK" --out "$OUT" --model "$MODEL")
echo "$(date -Is) finished: $OUT"
