"""Probe of the toy domains' gap: source-only vs target-oracle mIoU of a tiny CNN.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/probe_toy_gap.py --data-root data/toy

Trains the same small plain-torch encoder-decoder twice with the same schedule: on the
source train split (source-only) and on the target train labels (oracle), and scores
both on the target val split. A useful UDA benchmark has source-only well below the
oracle (a real gap) and an oracle well above chance (the target is learnable). This
is a check of the data, not of CPSL: no mmseg, no adaptation.
"""
import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from cpsl_lab.toy_world import CLASSES, IGNORE_INDEX, ToyConfig, prepare_toy_tree, split_dirs


def load_split(root: Path, domain: str, split: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, H, W) float in about [-2, 2] and labels (N, H, W) int64."""
    img_dir, lbl_dir = split_dirs(root, domain, split)
    names = sorted(p.name for p in img_dir.glob('*.png'))
    images = np.stack([np.asarray(Image.open(img_dir / n).convert('RGB')) for n in names])
    labels = np.stack([np.asarray(Image.open(lbl_dir / n)) for n in names])
    x = (torch.from_numpy(images).permute(0, 3, 1, 2).float() - 128.0) / 64.0
    return x, torch.from_numpy(labels).long()


def conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinySegNet(nn.Module):
    """Encoder to stride 8 with dilated context, two-skip decoder to stride 2."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.s2 = nn.Sequential(conv(3, 16, 2), conv(16, 32))
        self.s4 = nn.Sequential(conv(32, 48, 2), conv(48, 48))
        self.s8 = nn.Sequential(conv(48, 64, 2), conv(64, 64, dilation=2),
                                conv(64, 64, dilation=4))
        self.fuse4 = nn.Sequential(nn.Conv2d(112, 48, 1, bias=False), nn.BatchNorm2d(48),
                                   nn.ReLU(inplace=True), conv(48, 48))
        self.fuse2 = nn.Sequential(nn.Conv2d(80, 32, 1, bias=False), nn.BatchNorm2d(32),
                                   nn.ReLU(inplace=True))
        self.cls = nn.Conv2d(32, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f2 = self.s2(x)
        f4 = self.s4(f2)
        f8 = self.s8(f4)
        up = F.interpolate(f8, size=f4.shape[2:], mode='bilinear', align_corners=False)
        d4 = self.fuse4(torch.cat([up, f4], 1))
        up = F.interpolate(d4, size=f2.shape[2:], mode='bilinear', align_corners=False)
        d2 = self.fuse2(torch.cat([up, f2], 1))
        return F.interpolate(self.cls(d2), size=x.shape[2:], mode='bilinear',
                             align_corners=False)


def train(x: torch.Tensor, y: torch.Tensor, iters: int, batch: int, seed: int) -> nn.Module:
    """Adam with a poly schedule, random horizontal flips."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = TinySegNet(len(CLASSES))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: (1 - it / iters) ** 0.9)
    model.train()
    for _ in range(iters):
        idx = torch.randint(len(x), (batch,), generator=gen)
        xb, yb = x[idx], y[idx]
        flip = torch.rand(batch, generator=gen) < 0.5
        xb[flip], yb[flip] = xb[flip].flip(-1), yb[flip].flip(-1)
        loss = F.cross_entropy(model(xb), yb, ignore_index=IGNORE_INDEX)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Dict[str, object]:
    """Per-class IoU (percent) and mIoU over the classes present in ``y``."""
    model.eval()
    c = len(CLASSES)
    hist = torch.zeros(c * c, dtype=torch.int64)
    for i in range(0, len(x), 32):
        pred = model(x[i:i + 32]).argmax(1)
        gt = y[i:i + 32]
        keep = gt != IGNORE_INDEX
        hist += torch.bincount(gt[keep] * c + pred[keep], minlength=c * c)
    hist = hist.view(c, c).double()
    union = hist.sum(0) + hist.sum(1) - hist.diag()
    iou = torch.where(hist.sum(1) > 0, hist.diag() / union.clamp(min=1), float('nan'))
    return dict(miou=float(100 * iou.nanmean()),
                per_class={n: round(float(100 * v), 1) for n, v in zip(CLASSES, iou)})


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/toy',
                        help='toy tree (generated with default settings if absent)')
    parser.add_argument('--iters', type=int, default=400)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--json', help='also write the results to this file')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = Path(args.data_root)
    if not (root / 'meta.json').is_file():
        prepare_toy_tree(root, ToyConfig())
    x_val, y_val = load_split(root, 'target', 'val')
    results = {}
    for name, domain in (('source-only', 'source'), ('oracle', 'target')):
        x, y = load_split(root, domain, 'train')
        start = time.time()
        model = train(x, y, args.iters, args.batch, args.seed)
        results[name] = evaluate(model, x_val, y_val)
        results[name]['train_s'] = round(time.time() - start, 1)
        print(f'{name:12s} target-val mIoU {results[name]["miou"]:5.1f}  '
              f'({results[name]["train_s"]} s)  {results[name]["per_class"]}', flush=True)
    ratio = results['source-only']['miou'] / results['oracle']['miou']
    print(f'source-only / oracle = {ratio:.2f}')
    if args.json:
        Path(args.json).write_text(json.dumps(dict(args=vars(args), ratio=ratio, **results),
                                              indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
