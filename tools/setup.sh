#!/usr/bin/env bash
# One-command set-up of cpsl-mmseg: creates .venv/ at the repository root and installs
# the pinned OpenMMLab stack, this package (editable, with test extras) and the lab
# beside it (projects/cpsl_lab, editable).
#
#   bash tools/setup.sh
#
# Idempotent: every step first checks whether its result is already in place and
# skips itself if so. Fails loudly, naming the step that failed.
#
# Environment knobs:
#   PYTHON      interpreter used to create .venv            (default: python3)
#   VENV        where the virtual environment lives         (default: <repo>/.venv)
#   TORCH_SPEC  torch requirement installed when .venv has no torch
#               (default: the pin in requirements/torch.txt)
# CUDA: install a CUDA build of torch into .venv first (see README); this script keeps
# whatever torch .venv already has, and mmcv then compiles its CUDA ops against it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
TORCH_SPEC="${TORCH_SPEC:-$(grep -E '^torch' "$REPO/requirements/torch.txt")}"
STEP="start"
T0=$SECONDS

trap 'echo "[setup] FAILED at step: $STEP (see the output above)" >&2' ERR

step() {
    STEP="$1"
    echo "[setup] ($((SECONDS - T0))s) $1"
}

has() {  # has <python statement>: true when it runs in .venv without error
    "$PY" -c "$1" >/dev/null 2>&1
}

step "virtual environment at $VENV"
if [ ! -x "$PY" ]; then
    "$PYTHON" -m venv "$VENV"
fi
has "import sys; assert sys.version_info >= (3, 9)"

step "torch"
if has "import torch"; then
    echo "[setup]   keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
else
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
        echo "[setup]   nvidia-smi works: '$TORCH_SPEC' from your index should be a CUDA build;"
        echo "[setup]   to choose another CUDA build, install it into $VENV first and re-run."
    fi
    "${PIP[@]}" install "$TORCH_SPEC"
fi

step "build tools for mmcv (setuptools, wheel, ninja)"
"${PIP[@]}" install -q -r "$REPO/requirements/build.txt"

step "mmengine"
has "import mmengine; assert mmengine.__version__ == '0.10.7'" \
    || "${PIP[@]}" install "mmengine==0.10.7"

MMCV_OK="import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'"
step "mmcv 2.1.0 with compiled ops (a source build takes several minutes)"
if ! has "$MMCV_OK"; then
    # --no-build-isolation: mmcv's setup.py must see the torch in .venv to compile ops.
    MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" install --no-build-isolation "mmcv==2.1.0" || true
    if ! has "$MMCV_OK"; then
        echo "[setup]   mmcv.ops missing (a cached op-less wheel?): rebuilding without the pip cache"
        "${PIP[@]}" uninstall -y mmcv >/dev/null 2>&1 || true
        MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" install --no-cache-dir --no-build-isolation "mmcv==2.1.0"
    fi
fi
"$PY" -c "$MMCV_OK"

step "mmsegmentation 1.2.2 (+ ftfy, regex)"
has "import mmseg; assert mmseg.__version__ == '1.2.2'; import ftfy, regex" \
    || "${PIP[@]}" install "mmsegmentation==1.2.2" ftfy regex

step "cpsl_mmseg (editable) with test extras"
"${PIP[@]}" install -q --no-build-isolation -e "$REPO[tests]"

step "cpsl_lab, the offline benchmark lab (editable)"
"${PIP[@]}" install -q --no-build-isolation -e "$REPO/projects/cpsl_lab"

step "import check"
"$PY" -c "import torch, mmcv.ops, mmseg, cpsl_mmseg, cpsl_lab; print('[setup]   torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmseg', mmseg.__version__, '| cpsl_mmseg', cpsl_mmseg.__version__, '| cpsl_lab')"

STEP="done"
echo "[setup] done in $((SECONDS - T0))s; activate with: source $VENV/bin/activate"
