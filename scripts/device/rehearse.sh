#!/usr/bin/env bash
# Rehearses the device run here, without a GPU: scripts/device/run.sh in a copy of the working tree
# (as the device tool sends it: tracked and untracked-not-ignored files + .device), with no Node or npm on PATH, no
# node_modules and no ../shared, and $OUT a fresh folder — so only what the payload carries can
# be used. Without an NVIDIA driver run.sh falls back to the payload's SwiftShader.
#
#   node scripts/device/pack.mjs && [LIMIT=M] [STOP_AFTER=STAGE] bash scripts/device/rehearse.sh [PRESET (default tiny-device)] [DEADLINE minutes (default 6)]
#
# Ends with the files $OUT received, checked against the device tool's limits (8 files, 16 MiB each).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PRESET=${1:-tiny-device}
DEADLINE=${2:-6}
[ -f "$ROOT/.device/payload.tar.xz" ] || { echo "rehearse: run \`node scripts/device/pack.mjs\` first"; exit 2; }

SANDBOX=$(mktemp -d /tmp/chatuie-rehearsal-XXXX)
mkdir -p "$SANDBOX/repo" "$SANDBOX/out"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$SANDBOX/repo" && cp -r .device "$SANDBOX/repo/")
echo "rehearsal in $SANDBOX (preset $PRESET, deadline $DEADLINE min)"

# A PATH without node: only system tools and python3.
BIN="$SANDBOX/bin"
mkdir -p "$BIN"
for tool in bash sh env tar split cp ls tr date mkdir rm chmod cat tee python3 xz dirname timeout grep head; do
  ln -s "$(PATH=/usr/bin:/bin command -v "$tool")" "$BIN/$tool"
done
(cd "$SANDBOX/repo" && env -i PATH="$BIN" HOME="$SANDBOX" OUT="$SANDBOX/out" PRESET="$PRESET" DEADLINE="$DEADLINE" \
  LIMIT="${LIMIT:-9.3}" ${STOP_AFTER:+STOP_AFTER="$STOP_AFTER"} \
  WORK="$SANDBOX/work" bash scripts/device/run.sh) || echo "rehearse: run.sh exited $?"

echo "--- \$OUT:"
ls -la "$SANDBOX/out"
count=$(ls "$SANDBOX/out" | wc -l)
big=$(find "$SANDBOX/out" -type f -size +16M | wc -l)
[ "$count" -le 8 ] && [ "$big" -eq 0 ] || { echo "rehearse: \$OUT breaks the device tool's limits ($count files, $big over 16 MiB)"; exit 1; }
if [ -f "$SANDBOX/out/model.tar" ]; then
  tar -C "$SANDBOX" -xf "$SANDBOX/out/model.tar"
  echo "model folder: $SANDBOX/model"; ls -la "$SANDBOX/model"
fi
