"""Generates the offline toy UDA benchmark (flat-shaded source -> photographic target).

    python projects/cpsl_lab/tools/prepare_toy_data.py       # data/toy, seed 0
    python projects/cpsl_lab/tools/prepare_toy_data.py --out /tmp/toy --seed 1

Writes ROOT/{source,target}/{images,labels}/{train,val}/NAME.png and ROOT/meta.json.
Nothing is downloaded: the target's real content is read from images bundled with
scikit-image and scikit-learn. Re-running with the same settings does nothing; a tree
of other settings is replaced only with --force.
"""
import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
from mmengine.utils import ProgressBar

from cpsl_lab.toy_world import (CLASSES, ToyConfig, prepare_toy_tree, read_toy_meta,
                                validate_toy_tree)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    defaults = ToyConfig()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/toy', help='tree root (default: data/toy)')
    parser.add_argument('--seed', type=int, default=defaults.seed)
    parser.add_argument('--width', type=int, default=defaults.width)
    parser.add_argument('--height', type=int, default=defaults.height)
    for field in ('source_train', 'source_val', 'target_train', 'target_val'):
        parser.add_argument(f'--{field.replace("_", "-")}', dest=field, type=int,
                            default=getattr(defaults, field),
                            help=f'number of {field.replace("_", " ")} images '
                                 f'(default: {getattr(defaults, field)})')
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if ROOT holds a tree of other settings')
    return parser.parse_args(argv)


def summarise(root: Path) -> str:
    """Per-split class shares (percent) and the long-tail ratio, from meta.json."""
    meta = read_toy_meta(root)
    lines = ['split         ' + ' '.join(f'{c[:8]:>8}' for c in CLASSES) + '   max/min']
    for key, stats in meta['splits'].items():
        counts = np.asarray(stats['pixel_counts'], np.float64)
        share = counts / max(counts.sum(), 1.0)
        ratio = share.max() / share.min() if share.min() > 0 else float('inf')
        lines.append(f'{key:<13} ' + ' '.join(f'{100 * s:8.2f}' for s in share)
                     + f'   {ratio:7.1f}')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    config = ToyConfig(seed=args.seed, width=args.width, height=args.height,
                       source_train=args.source_train, source_val=args.source_val,
                       target_train=args.target_train, target_val=args.target_val)
    root = Path(args.out)
    start = time.time()
    bars: List[ProgressBar] = []  # created on the first image: none when skipping

    def tick() -> None:
        if not bars:
            bars.append(ProgressBar(config.total))
        bars[0].update()

    try:
        status = prepare_toy_tree(root, config, force=args.force, progress=tick)
    except FileExistsError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    if status == 'skipped':
        print(f'{root}: the toy tree of these settings is already complete; nothing to do')
    else:
        validate_toy_tree(root)
        print(f'\n{root}: wrote {config.total} images in {time.time() - start:.1f} s')
    print(summarise(root))
    return 0


if __name__ == '__main__':
    sys.exit(main())
