#!/usr/bin/env bash
# Runs the test suite in .venv (create it first with: bash tools/setup.sh), one
# pytest-xdist worker per core (PYTEST_WORKERS=N to change; tests that share a pipeline
# run stay on one worker, see tests/conftest.py).
# Extra arguments go to pytest, e.g.: bash tools/run_tests.sh -k sinkhorn -x
# (-n 0 runs everything in one process).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
if [ ! -x .venv/bin/python ]; then
    echo "no .venv/ here: run 'bash tools/setup.sh' first" >&2
    exit 2
fi
# Keep BLAS/OpenMP from oversubscribing the cores when tests start subprocesses.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}" --dist loadgroup "$@"
