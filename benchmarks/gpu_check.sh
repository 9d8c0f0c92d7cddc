#!/usr/bin/env bash
# One script for a lent GPU (at most ~8 minutes): the training step at 256 px with StarGAN v2's architecture (batch 8;
# fp32, bf16, channels_last, compile), PS evaluation throughput (batched vs the authors' loop), interpolation latency,
# and a 3-minute glyph quick-start run on CUDA. Writes gpu_check.json and gpu_check.md in OUT (default: .).
# On a machine without CUDA it says so and exits 0.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-.}
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
if ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA device here; nothing to measure"
    exit 0
fi
mkdir -p "$OUT"
log() { echo "### $*" | tee -a "$OUT/gpu_check.md"; }
: > "$OUT/gpu_check.md"
$PY -c "import torch; p = torch.cuda.get_device_properties(0); print(f'# GPU check: {p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}')" \
    | tee -a "$OUT/gpu_check.md"
log "training step, StarGAN v2 at 256 px, batch 8"
timeout 240 $PY benchmarks/train_step.py --config configs/afhq.yaml --device cuda --iters 10 --warmup 3 \
    --options baseline,bf16,channels_last,compile 2>&1 | grep "^|" | tee -a "$OUT/gpu_check.md"
log "PS evaluation throughput (batched vs the authors' loop)"
timeout 90 $PY benchmarks/eval_ps.py --sizes 256 --sequences 8 --device cuda 2>&1 | grep "^|" | tee -a "$OUT/gpu_check.md"
log "one 20-frame interpolation"
timeout 60 $PY benchmarks/interpolate.py --sizes 256 --device cuda 2>&1 | grep "^|" | tee -a "$OUT/gpu_check.md"
log "glyph quick start on CUDA (3 minutes)"
test -d data/glyphs/train || $PY -m i2i make-glyphs --out data/glyphs > /dev/null
rm -rf "$OUT/gpu_quickstart"
start=$(date +%s)
timeout 180 $PY -m i2i train --config configs/glyphs.yaml --run-dir "$OUT/gpu_quickstart" --set train.device=cuda \
    --no-progress > "$OUT/gpu_quickstart.log" 2>&1
steps=$($PY -c "import json, sys; print(max((json.loads(l)['step'] for l in open(sys.argv[1])), default=0))" \
    "$OUT/gpu_quickstart/log.jsonl" 2>/dev/null || echo 0)
echo "trained $steps of 1500 iterations in $(( $(date +%s) - start )) s" | tee -a "$OUT/gpu_check.md"
$PY - "$OUT" <<'PYEOF'
import json, re, sys
out = sys.argv[1]
text = open(f"{out}/gpu_check.md").read()
json.dump({"markdown": text, "tables": re.findall(r"(?m)^\|.*\|$", text)}, open(f"{out}/gpu_check.json", "w"), indent=1)
PYEOF
echo "gpu_check: $OUT/gpu_check.md and gpu_check.json"
