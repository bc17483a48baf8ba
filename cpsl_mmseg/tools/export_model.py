"""Export the network that predicts as a plain mmseg config and checkpoint.

    python tools/export_model.py CONFIG CHECKPOINT --out-dir DIR [--network teacher]

CONFIG and CHECKPOINT: a training stage's (a plain segmentor, or a UDA wrapper:
``MeanTeacherSelfTraining``, ``CPSL``, ``AdversarialWarmup``, ``CPSLDistill``), or a
segmentor config with a BN-calibrated file. Writes ``DIR/model.py``, a self-contained
mmseg config of the segmentor alone (no training keys; its test pipeline, val/test
data and evaluators, visualizer and ``custom_imports``), and ``DIR/model.pth``, its
weights with ``meta.dataset_meta`` (classes, palette), so that::

    from mmseg.apis import init_model, inference_model
    model = init_model('DIR/model.py', 'DIR/model.pth', device='cpu')
    result = inference_model(model, 'image.jpg')   # model.dataset_meta['classes']

Which network: by default the one the config validates and tests with
(``model.predict_with``, ``'student'`` unless set), so the exported model scores what
the training stage's evaluation reported; ``--network teacher`` exports the mean
teacher's or CPSL's EMA teacher instead. Both files are written atomically, after the
weights were checked against the exported model (tensor names and shapes).
"""
import argparse
from typing import List, Optional

import cpsl_mmseg  # noqa: F401  (registers the plug-in's components)
from cpsl_mmseg.utils.model_export import NETWORKS, export_model


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config CHECKPOINT was trained with')
    parser.add_argument('checkpoint', help='checkpoint (e.g. DIR/cpsl/train/iter_N.pth)')
    parser.add_argument('--out-dir', required=True, help='where model.py and model.pth go')
    parser.add_argument('--network', choices=NETWORKS,
                        help='which network of a UDA wrapper (default: the config\'s '
                        'model.predict_with, i.e. the one its evaluation measured)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    config, checkpoint, name = export_model(args.config, args.checkpoint, args.out_dir,
                                            args.network)
    print(f'exported the {name} network of {args.checkpoint}: {config} + {checkpoint}')


if __name__ == '__main__':
    main()
