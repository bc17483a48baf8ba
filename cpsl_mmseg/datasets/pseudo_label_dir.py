"""A directory of soft pseudo labels P_ST and the checkpoint that wrote it.

``pseudo_labels_meta.json`` records the writer's checkpoint (path and SHA-256), the
config, the number of classes and whether every map is written. Maps of one
checkpoint must never mix with another's: a writer with another checkpoint is refused
unless told to overwrite, which removes the old maps first. The record is written
before any map, so a writer killed half-way is resumed by the next run with the same
checkpoint, which also removes the temporary files the killed one left.
"""
import glob
import json
import os
import os.path as osp
from typing import Optional

from ..models.utils.stage_checkpoint import file_digest
from .pseudo_label_io import PSEUDO_LABEL_SUFFIX

META_FILE = 'pseudo_labels_meta.json'


def read_provenance(directory: str) -> Optional[dict]:
    """The record of ``directory`` (None when it has none)."""
    path = osp.join(directory, META_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_provenance(directory: str, record: dict) -> None:
    """Replace the record atomically."""
    path = osp.join(directory, META_FILE)
    with open(path + '.tmp', 'w') as f:
        json.dump(record, f, indent=1)
    os.replace(path + '.tmp', path)


def claim_directory(directory: str, checkpoint: str, config: str, num_classes: int,
                    overwrite: bool = False) -> dict:
    """Make ``directory`` the P_ST directory of ``checkpoint`` before writing maps.

    Orphan temporary files of a killed writer are removed. A directory of the same
    checkpoint (same content) is resumed; an empty one is claimed.

    Raises:
        FileExistsError: naming the directory and both checkpoints when it holds maps of
            another checkpoint (or maps without a record) and ``overwrite`` is False.
    """
    os.makedirs(directory, exist_ok=True)
    for orphan in glob.glob(osp.join(directory, '*.tmp')):
        os.remove(orphan)
    record = dict(checkpoint=osp.abspath(checkpoint),
                  checkpoint_sha256=file_digest(checkpoint, length=64),
                  config=osp.abspath(config), num_classes=num_classes, complete=False)
    previous = read_provenance(directory)
    maps = glob.glob(osp.join(directory, '*' + PSEUDO_LABEL_SUFFIX))
    same = previous is not None and previous.get('checkpoint_sha256') == record[
        'checkpoint_sha256'] and previous.get('num_classes') == num_classes
    if same and not overwrite:
        return previous
    if maps and not overwrite:
        writer = previous['checkpoint'] if previous else 'an unrecorded checkpoint'
        raise FileExistsError(
            f'{directory} holds {len(maps)} soft pseudo labels written by {writer}, not '
            f'by {osp.abspath(checkpoint)}: pass --overwrite to replace them (or '
            'write to another --out)')
    for path in maps:
        os.remove(path)
    write_provenance(directory, record)
    return record


def mark_complete(directory: str, num_images: int) -> None:
    """Record that every map of the directory is written."""
    record = read_provenance(directory)
    record.update(complete=True, num_images=num_images)
    write_provenance(directory, record)
