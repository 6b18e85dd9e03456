#!/usr/bin/env bash
# Trains the demo model on the device tool's machine (a GPU, python3, no Node, no network), from
# the payload scripts/device/pack.mjs builds, and leaves the results in $OUT for the tool to send back.
#
# From the repo root here (the device tool runs the command in a copy of the working tree):
#   node scripts/device/pack.mjs            # once: .device/payload.tar.xz (≈31 MiB)
#   device run, carry [".device"], timeout_s 600, command:
#     bash scripts/device/run.sh
#
# Settings (environment): PRESET (default demo-device); DEADLINE, minutes after which training
# stops after its current step with a checkpoint (default 7.5); LIMIT, minutes after which the
# pipeline is stopped wherever it is (default 9.3: the tool's command limit is 10, and the files
# must still be collected); STOP_AFTER, a stage to stop after (e.g. sft: train there, evaluate
# here); RUN (default runs/device: a warm machine keeps ignored folders between
# calls, so a second call with the same RUN resumes).
#
# $OUT gets (the tool returns at most 8 files of 16 MiB): train.log, pipeline.json, BUILD, and
#   model.tar            the finished model folder (config, f16 weights, tokenizer, card, report), or
#   checkpoint.tar.NN    when the run did not finish, in 15 MiB parts: after SFT, its weights (to
#                        evaluate here); before, the last training checkpoint with its optimizer
#                        state. `cat checkpoint.tar.* | tar -x -C DIR` here, then
#                        `npm run train:demo -- --out DIR --preset PRESET --resume`.
set -uo pipefail

: "${OUT:?OUT must name the folder whose files come back}"
PRESET=${PRESET:-demo-device}
DEADLINE=${DEADLINE:-7.5}
LIMIT=${LIMIT:-9.3}
RUN=${RUN:-runs/device}
PAYLOAD=${PAYLOAD:-.device/payload.tar.xz}
WORK=${WORK:-/tmp/chatuie-device}

started=$(date +%s)
if [ ! -f "$PAYLOAD" ]; then
  echo "run.sh: $PAYLOAD is missing: run \`node scripts/device/pack.mjs\` here and carry .device" | tee "$OUT/train.log"
  exit 2
fi
rm -rf "$WORK" && mkdir -p "$WORK"
python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$PAYLOAD" "$WORK" || exit 2
chmod +x "$WORK/node"
cp "$WORK/BUILD" "$OUT/BUILD"

# Vulkan: the carried loader, the machine's NVIDIA driver where it has one, else SwiftShader (CPU).
export LD_LIBRARY_PATH="$WORK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_ICD_FILENAMES=$icd; break; fi
  done
fi
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$WORK/swiftshader/vk_swiftshader_icd.json}

{
  echo "payload: $(tr '\n' ' ' < "$WORK/BUILD")"
  echo "unpacked in $(( $(date +%s) - started )) s; VK_ICD_FILENAMES=$VK_ICD_FILENAMES"
  nvidia-smi -L 2>/dev/null || echo "nvidia-smi: none"
} | tee "$OUT/train.log"

# A few seconds' probe before the real run: Dawn must find an adapter through that ICD file.
if ! "$WORK/node" "$WORK/train-demo.mjs" --out "$WORK/probe" --preset tiny --data "$WORK/data" --stop-after tokenizer >"$WORK/probe.log" 2>&1; then
  {
    echo "run.sh: no WebGPU adapter through $VK_ICD_FILENAMES:"; cat "$WORK/probe.log"
    echo "--- diagnostics"; ls -la /dev/nvidia* /usr/local/nvidia/share/vulkan/icd.d 2>&1; cat "$VK_ICD_FILENAMES" 2>&1
    ldconfig -p 2>/dev/null | grep -i -E 'vulkan|nvidia' | head -20
  } | tee -a "$OUT/train.log"
  exit 3
fi
grep '^adapter:' "$WORK/probe.log" | tee -a "$OUT/train.log"

resume=()
[ -f "$RUN/pipeline.json" ] && resume=(--resume)
left=$(python3 -c "import sys; print(max(10, int(float(sys.argv[1]) * 60) - int(sys.argv[2])))" "$LIMIT" "$(( $(date +%s) - started ))")
# SIGINT first (training stops after its step and saves), SIGKILL 20 s later (evaluation does not stop).
timeout -s INT -k 20 "$left" "$WORK/node" "$WORK/train-demo.mjs" --out "$RUN" --preset "$PRESET" --data "$WORK/data" \
  --deadline-minutes "$DEADLINE" ${STOP_AFTER:+--stop-after "$STOP_AFTER"} "${resume[@]}" 2>&1 | tee -a "$OUT/train.log"
status=${PIPESTATUS[0]}
[ "$status" -ge 124 ] && echo "run.sh: stopped at the ${LIMIT}-minute limit (exit $status)" | tee -a "$OUT/train.log"

[ -f "$RUN/pipeline.json" ] && cp "$RUN/pipeline.json" "$OUT/pipeline.json"
if [ -f "$RUN/model/README.md" ]; then
  tar -C "$RUN" -cf "$OUT/model.tar" model
else
  # Not finished: send back what a resumed run needs. After SFT, its weights (evaluation and the
  # card can run here); before, the most advanced training checkpoint with its optimizer state.
  if python3 -c 'import json, sys; sys.exit(0 if "sft" in json.load(open(sys.argv[1]))["completed"] else 1)' "$RUN/pipeline.json" 2>/dev/null; then
    tar -C "$RUN" -cf - pipeline.json tokenizer sft/config.json sft/model.safetensors sft/trainer_state.json sft/tokenizer.json sft/tokenizer_config.json \
      | split -b 15M -d - "$OUT/checkpoint.tar."
  else
    for stage in sft pretrain; do
      if [ -f "$RUN/$stage/trainer_state.json" ]; then
        tar -C "$RUN" -cf - pipeline.json tokenizer "$stage" | split -b 15M -d - "$OUT/checkpoint.tar."
        break
      fi
    done
  fi
fi
echo "run.sh: training script exit $status; $(( $(date +%s) - started )) s in all; \$OUT: $(ls "$OUT" | tr '\n' ' ')" | tee -a "$OUT/train.log"
exit "$status"
