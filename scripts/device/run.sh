#!/usr/bin/env bash
# Trains the demo model on the device tool's machine (a GPU, python3, no Node, no network), from
# the payload scripts/device/pack.mjs builds, and leaves the results in $OUT for the tool to send back.
#
# From the repo root here (the device tool runs the command in a copy of the working tree):
#   node scripts/device/pack.mjs            # once: .device/payload.tar.xz (≈31 MiB)
#   device run, carry [".device"], timeout_s 600, command:
#     bash scripts/device/run.sh
#
# Settings (environment): PRESET (default demo-device), DEADLINE minutes for the training script
# (default 8.5: the tool's command limit is 10), RUN (default runs/device: a warm machine keeps
# ignored folders between calls, so a second call with the same RUN resumes).
#
# $OUT gets (the tool returns at most 8 files of 16 MiB): train.log, pipeline.json, BUILD, and
#   model.tar            the finished model folder (config, f16 weights, tokenizer, card, report), or
#   checkpoint.tar.NN    the last training checkpoint in 15 MiB parts when the run did not finish:
#                        `cat checkpoint.tar.* | tar -x` here, then `npm run train:demo -- --out DIR --resume`.
set -uo pipefail

: "${OUT:?OUT must name the folder whose files come back}"
PRESET=${PRESET:-demo-device}
DEADLINE=${DEADLINE:-8.5}
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

resume=()
[ -f "$RUN/pipeline.json" ] && resume=(--resume)
"$WORK/node" "$WORK/train-demo.mjs" --out "$RUN" --preset "$PRESET" --data "$WORK/data" \
  --deadline-minutes "$DEADLINE" "${resume[@]}" 2>&1 | tee -a "$OUT/train.log"
status=${PIPESTATUS[0]}

[ -f "$RUN/pipeline.json" ] && cp "$RUN/pipeline.json" "$OUT/pipeline.json"
if [ -f "$RUN/model/README.md" ]; then
  tar -C "$RUN" -cf "$OUT/model.tar" model
else
  # Not finished: send the most advanced checkpoint back, to resume here.
  for stage in sft pretrain; do
    if [ -f "$RUN/$stage/trainer_state.json" ]; then
      tar -C "$RUN" -cf - pipeline.json tokenizer "$stage" | split -b 15M -d - "$OUT/checkpoint.tar."
      break
    fi
  done
fi
echo "run.sh: training script exit $status; $(( $(date +%s) - started )) s in all; \$OUT: $(ls "$OUT" | tr '\n' ' ')" | tee -a "$OUT/train.log"
exit "$status"
