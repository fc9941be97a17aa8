#!/usr/bin/env bash
# The WebGPU training step against the CPU step, and PyTorch CUDA eager where it is there, on a GPU
# machine, from the working tree alone (no package registry needed: node_modules carried with the
# tree or installed by `npm ci`). Checks first for what WebGPU needs on Linux: the Vulkan loader
# (libvulkan.so.1), a GPU's Vulkan driver (an ICD manifest that is not a CPU one) and a GPU device node;
# what is missing is one line, exit 1.
# Then bench/webgpu.ts for each network (webgpu flavour on WebGPU, state kept on the GPU, against
# the portable and x64 CPU steps), and bench/pytorch_train.py --device cuda where
# `torch.cuda.is_available()`. Everything goes to stdout and to the results file.
#   bash bench/gpu-machine.sh [results file]     (from the repo root; default: $OUT/ if set, else test-output/)
# Environment: NETS (se_resnet20,se_resnet18,se_resnet50), INPUT (3x150x150), BATCH (64), STEPS (5),
#   WARMUP (2), THREADS (all cores: the CPU steps' threads), PYTHON (python3), SOFTWARE_VULKAN=1 to accept
#   a CPU Vulkan driver (lavapipe, SwiftShader: only shows that it runs; use tiny sizes).
set -u -o pipefail
cd "$(dirname "$0")/.."

NETS=${NETS:-se_resnet20,se_resnet18,se_resnet50}
INPUT=${INPUT:-3x150x150}
BATCH=${BATCH:-64}
STEPS=${STEPS:-5}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-$(nproc)}
PYTHON=${PYTHON:-python3}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results=${1:-${OUT:-test-output}/gpu-machine-$stamp.txt}
mkdir -p "$(dirname "$results")"

say() { echo "$*" | tee -a "$results"; }

# --- What WebGPU needs: node and the packages, the Vulkan loader, a GPU's Vulkan driver ---
software=${SOFTWARE_VULKAN:-0}
have_loader() {
  local ldconfig
  ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
  "$ldconfig" -p 2>/dev/null | grep 'libvulkan\.so\.1' >/dev/null && return 0
  local d
  local path=${LD_LIBRARY_PATH:-}
  for d in ${path//:/ }; do [ -e "$d/libvulkan.so.1" ] && return 0; done
  return 1
}
missing=()
command -v node >/dev/null || missing+=("node (Node.js 20 or later)")
{ [ -d node_modules/onnxruntime-node ] && [ -d node_modules/tsx ]; } || missing+=("node_modules (run npm ci, or carry node_modules with the tree)")
have_loader || missing+=("the Vulkan loader libvulkan.so.1 (Debian/Ubuntu: apt-get install libvulkan1)")
# The driver manifests the loader reads: the variables' files, else the standard folders.
icds=()
named=${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-}}
if [ -n "$named" ]; then
  for f in ${named//:/ }; do [ -f "$f" ] && icds+=("$f"); done
  [ ${#icds[@]} -gt 0 ] || missing+=("the Vulkan driver manifests named by VK_DRIVER_FILES/VK_ICD_FILENAMES ($named): no such files")
else
  for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d; do
    for f in "$d"/*.json; do [ -f "$f" ] && icds+=("$f"); done
  done
  # Some NVIDIA containers put the driver's manifest where the loader does not look by default.
  nvidia=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -f "$nvidia" ] && ! printf '%s\n' "${icds[@]}" | grep nvidia >/dev/null; then
    icds+=("$nvidia")
    export VK_ICD_FILENAMES=$nvidia
  fi
fi
gpu_icds=()
for f in "${icds[@]}"; do
  case $(basename "$f") in lvp_icd*|*swiftshader*|*mock_icd*) ;; *) gpu_icds+=("$f") ;; esac
done
if [ "$software" != 1 ]; then
  hint=""
  if [ -n "${NVIDIA_VISIBLE_DEVICES:-}" ] && ! [[ ${NVIDIA_DRIVER_CAPABILITIES:-} =~ (all|graphics) ]]; then
    hint=" (this container has NVIDIA GPUs but NVIDIA_DRIVER_CAPABILITIES=${NVIDIA_DRIVER_CAPABILITIES:-(unset)} lacks graphics, so the runtime mounted no Vulkan driver: start it with NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics)"
  fi
  if [ ${#gpu_icds[@]} -eq 0 ] && [ ${#icds[@]} -gt 0 -o -z "$named" ]; then
    if [ ${#icds[@]} -eq 0 ]; then found="none in /usr/share/vulkan/icd.d, /etc/vulkan/icd.d, /usr/local/share/vulkan/icd.d or /usr/local/nvidia/share/vulkan/icd.d"
    else found="only CPU ones: ${icds[*]}"; fi
    missing+=("a GPU's Vulkan driver (ICD manifest; $found)$hint")
    hint=""
  fi
  if ! ls /dev/nvidia[0-9]* /dev/dri/renderD* >/dev/null 2>&1; then
    missing+=("a GPU device (no /dev/nvidia0 or /dev/dri/renderD*)$hint")
  fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  line=$(printf '%s; ' "${missing[@]}")
  echo "missing: ${line%; }" | tee -a "$results" >&2
  exit 1
fi

# Dawn complains on every start where XDG_RUNTIME_DIR is unset (headless machines): give it one.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then XDG_RUNTIME_DIR=$(mktemp -d); export XDG_RUNTIME_DIR; fi

say "# bench/gpu-machine.sh, $(date -u)"
say "host $(hostname); CPU $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; node $(node --version)"
command -v nvidia-smi >/dev/null && say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | paste -sd ';')"
say "Vulkan drivers: ${icds[*]}"
command -v vulkaninfo >/dev/null && vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverName|driverInfo|apiVersion' | sed 's/^\s*/  /' | tee -a "$results"
say "NETS=$NETS INPUT=$INPUT BATCH=$BATCH STEPS=$STEPS WARMUP=$WARMUP THREADS=$THREADS"
say ""

# --- ONNX Runtime: the webgpu step on WebGPU against the CPU steps ---
status=0
say "## node --import tsx bench/webgpu.ts --arch $NETS --input $INPUT --batch $BATCH --steps $STEPS --warmup $WARMUP --threads $THREADS"
node --import tsx bench/webgpu.ts --arch "$NETS" --input "$INPUT" --batch "$BATCH" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" 2>&1 \
  | grep -v 'XDG_RUNTIME_DIR' | tee -a "$results" || status=1
say ""

# --- PyTorch CUDA eager, where there is one ---
if "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  say "## $PYTHON bench/pytorch_train.py --device cuda --nets $NETS --input $INPUT --batch $BATCH --steps $STEPS --warmup $WARMUP"
  "$PYTHON" bench/pytorch_train.py --device cuda --nets "$NETS" --input "$INPUT" --batch "$BATCH" --steps "$STEPS" --warmup "$WARMUP" 2>&1 | tee -a "$results" || status=1
else
  why=$("$PYTHON" -c 'import torch; print("torch", torch.__version__, "sees no CUDA device")' 2>&1 | tail -1)
  say "## PyTorch CUDA eager: skipped ($PYTHON: ${why:-not found})"
fi
say ""
say "results in $results"
exit $status
