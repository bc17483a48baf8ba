#!/usr/bin/env python
"""Extract one sub-model of a stage checkpoint as a plain segmentor checkpoint.

    python tools/extract_submodel.py SRC DST --prefix student.

Stages hand weights on as plain segmentor checkpoints (what
``model.warmup_checkpoint`` of CPSL and ``tools/generate_pseudo_labels.py`` load,
strictly). Every UDA wrapper keeps the network it trains under ``student.``:

* ``AdversarialWarmup``: ``student.`` (the discriminator ``discriminator.`` is dropped);
* ``MeanTeacherSelfTraining`` / ``CPSL`` / ``CPSLDistill``: ``student.`` (the trained
  network) or ``teacher.``.

DST is an mmengine checkpoint ``{'state_dict': ..., 'meta': {...}}`` whose meta
records SRC, its SHA-256 prefix and the prefix used, and keeps SRC's
``dataset_meta`` (classes, palette). For mmseg inference, ``tools/export_model.py``
writes the matching plain config too.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import torch

from cpsl_mmseg.models.utils.stage_checkpoint import (file_digest, read_state_dict,
                                                      select_prefix)
from cpsl_mmseg.utils.model_export import checkpoint_meta


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='stage checkpoint (e.g. work_dirs/.../iter_N.pth)')
    parser.add_argument('dst', help='output .pth')
    parser.add_argument('--prefix', required=True,
                        help="sub-model to keep: 'student.' or 'teacher.'")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> str:
    args = parse_args(argv)
    state = select_prefix(read_state_dict(args.src, 'SRC'), args.prefix, args.src,
                          'SRC')
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(source=osp.abspath(args.src), source_sha256=file_digest(args.src),
                prefix=args.prefix)
    classes = checkpoint_meta(args.src).get('dataset_meta')  # for mmseg's APIs
    if classes:
        meta['dataset_meta'] = classes
    torch.save(dict(state_dict=state, meta=meta), args.dst)
    print(f'{args.dst}: {len(state)} tensors of {args.src} under {args.prefix!r}')
    return args.dst


if __name__ == '__main__':
    main()
