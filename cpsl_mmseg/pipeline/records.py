"""Stage records: ``DIR/<stage>/stage.json``.

A stage is complete while its record exists and every file it read is unchanged by
content (recorded as SHA-256 prefixes), so a warm-up redone with other results makes
the stages that depend on it run again, and the same warm-up redone leaves them be.
A record is replaced only when its stage completes again. ``started.json`` holds the
input digests of the last start of a stage, so that an interrupted stage resumes only
onto the inputs it started from.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from ..models.utils.stage_checkpoint import file_digest

RECORD = 'stage.json'
STARTED = 'started.json'


def read_record(stage_dir: str, name: str = RECORD) -> Optional[dict]:
    path = osp.join(stage_dir, name)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_record(stage_dir: str, record: dict, name: str = RECORD) -> dict:
    """Write the record atomically: from now on the stage counts as complete (or, for
    ``STARTED``, as started on these inputs)."""
    os.makedirs(stage_dir, exist_ok=True)
    path = osp.join(stage_dir, name)
    with open(path + '.tmp', 'w') as f:
        json.dump(record, f, indent=1)
    os.replace(path + '.tmp', path)
    return record


def input_digests(paths: Sequence[str]) -> Dict[str, str]:
    """``{path: SHA-256 prefix}`` of the files a stage reads."""
    return {path: file_digest(path) for path in paths}


def changed_inputs(record: dict, paths: Sequence[str]) -> List[str]:
    """The inputs whose content differs from the record (or that it does not list)."""
    recorded = record.get('inputs', {})
    return [path for path in paths
            if recorded.get(path) != (file_digest(path) if osp.isfile(path) else None)]
