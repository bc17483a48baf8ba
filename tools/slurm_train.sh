#!/usr/bin/env bash
# Training on a SLURM cluster (one task per GPU).
#   GPUS=8 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py options...]
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: GPUS=N $0 PARTITION JOB_NAME CONFIG [train.py options...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHONPATH="$HERE/..:${PYTHONPATH:-}" \
srun -p "$PARTITION" --job-name="$JOB_NAME" --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 $SRUN_ARGS \
    python -u "$HERE/train.py" "$CONFIG" --launcher slurm "$@"
