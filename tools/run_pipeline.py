"""The whole CPSL pipeline in one command, with a plain self-training baseline.

    python tools/run_pipeline.py CONFIG --work-dir DIR [--data-root DIR] [--seed S]
                                 [--oracle] [--redo STAGE ...]

CONFIG is a CPSL config with a ``uda_pipeline`` entry (see
``configs/toy/cpsl_deeplabv3plus_r18-tiny_toy-128x64.py``). Stages, each a tool of
its own that also runs alone (the exact command is printed and logged):

  data           prepare (toy domains only) and validate the data tree
  warmup         source-only training (``uda_pipeline.warmup_config``), or with
                 ``--warmup adversarial`` the paper's output-space adversarial
                 warm-up (``uda_pipeline.adversarial_warmup_config``; its segmentor
                 is extracted to DIR/warmup/segmentor.pth)         -> evaluated
  calibration    (``uda_pipeline.calibrate_batch_norm``) the warm-up's BN statistics
                 re-estimated on target train images (calibrate_batch_norm.py);
                 later stages start from it                            -> evaluated
  pseudo_labels  soft P_ST of every target train image (generate_pseudo_labels.py)
  prototypes     Eq. 7 prototypes + Eq. 10 class counts (compute_prototypes.py)
  self_training  the baseline: same schedule, no SL / bank / Sinkhorn -> evaluated
  cpsl           CPSL training                                        -> evaluated
  oracle         (with --oracle) trained on target labels              -> evaluated
  analysis       pseudo-label class distributions vs ground truth, figures

A stage whose ``DIR/<stage>/stage.json`` exists is complete and skipped; a failed
stage leaves no such file and earlier stages' outputs are never touched. At the end
``DIR/summary.json`` (per stage: mIoU, per-class IoU, wall time) and
``DIR/summary.md`` (per-class table) are written, with PNG figures.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STAGES = ('data', 'warmup', 'calibration', 'pseudo_labels', 'prototypes', 'self_training',
          'cpsl', 'oracle', 'analysis')
EVALUATED = ('warmup', 'calibration', 'self_training', 'cpsl', 'oracle')
LABELS = dict(warmup='source-only', calibration='source-only + target BN',
              self_training='self-training',
              cpsl='CPSL', oracle='target oracle')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='CPSL config with a uda_pipeline entry')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--data-root', help='override the config data_root')
    parser.add_argument('--seed', type=int, default=0,
                        help='training seed of every stage')
    parser.add_argument('--warmup', default='source_only',
                        choices=('source_only', 'adversarial'),
                        help='warm-up stage: source-only training (default) or '
                        "the paper's output-space adversarial training")
    parser.add_argument('--oracle', action='store_true',
                        help='also train the target oracle (upper bound)')
    parser.add_argument('--redo', nargs='+', default=[], choices=STAGES,
                        help='rerun these stages even if complete')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='extra key=value options for every training stage, '
                        'the warm-up and oracle included (use keys all stage '
                        'configs share, e.g. train_cfg.max_iters=...)')
    return parser.parse_args(argv)


class Pipeline:
    """Runs the stages as subprocesses and collects their results."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work_dir = osp.abspath(args.work_dir)
        self.cfg = Config.fromfile(args.config)
        if 'uda_pipeline' not in self.cfg:
            raise KeyError(f'{args.config} has no uda_pipeline entry (see '
                           'configs/toy/cpsl_deeplabv3plus_r18-tiny_toy-128x64.py)')
        self.spec = self.cfg.uda_pipeline
        self.data_root = osp.abspath(args.data_root or self.cfg.data_root)
        os.makedirs(self.work_dir, exist_ok=True)

    # ------------------------------------------------------------ helpers
    def stage_dir(self, stage: str) -> str:
        return osp.join(self.work_dir, stage)

    def done(self, stage: str) -> Optional[dict]:
        path = osp.join(self.stage_dir(stage), 'stage.json')
        if stage in self.args.redo or not osp.isfile(path):
            return None
        with open(path) as f:
            return json.load(f)

    def finish(self, stage: str, record: dict) -> dict:
        os.makedirs(self.stage_dir(stage), exist_ok=True)
        path = osp.join(self.stage_dir(stage), 'stage.json')
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(record, f, indent=1)
        os.replace(tmp, path)
        return record

    def run(self, stage: str, cmd: List[str]) -> None:
        """Run one tool; its output goes to DIR/<stage>/<tool>.log."""
        os.makedirs(self.stage_dir(stage), exist_ok=True)
        tool = osp.splitext(osp.basename(cmd[1]))[0]
        log_path = osp.join(self.stage_dir(stage), f'{tool}.log')
        printable = ' '.join(cmd)
        print(f'[pipeline] {stage}: {printable}', flush=True)
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep +
                   os.environ.get('PYTHONPATH', ''))
        with open(log_path, 'w') as log:
            log.write(f'$ {printable}\n')
            log.flush()
            proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            with open(log_path) as f:
                tail = ''.join(f.readlines()[-25:])
            raise RuntimeError(f'stage {stage!r} failed (exit {proc.returncode})'
                               f'; log: {log_path}\n{tail}')

    def data_options(self, uda: bool) -> List[str]:
        root = self.data_root
        if uda:
            opts = [f'train_dataloader.dataset.source.data_root={root}',
                    f'train_dataloader.dataset.target.data_root={root}']
        else:
            opts = [f'train_dataloader.dataset.data_root={root}']
        return opts + [f'val_dataloader.dataset.data_root={root}',
                       f'test_dataloader.dataset.data_root={root}']

    def pseudo_label_option(self) -> str:
        pipeline = self.cfg.train_dataloader.dataset.target.pipeline
        index = [s['type'] for s in pipeline].index('LoadSoftPseudoLabel')
        return (f'train_dataloader.dataset.target.pipeline.{index}.'
                f'pseudo_label_dir={self.stage_dir("pseudo_labels")}')

    def checkpoint(self, stage: str) -> str:
        with open(osp.join(self.stage_dir(stage), 'last_checkpoint')) as f:
            return f.read().strip()

    def warmup_checkpoint(self) -> str:
        """The warm-up network as a plain segmentor checkpoint: the one the
        completed warm-up stage evaluated (its extracted segmentor when the
        warm-up was adversarial)."""
        with open(osp.join(self.stage_dir('warmup'), 'stage.json')) as f:
            return json.load(f)['checkpoint']

    def seed_option(self) -> str:
        """``--seed`` as a config option (every training and seeded tool)."""
        return f'randomness.seed={self.args.seed}'

    def train_and_test(self, stage: str, config: str, options: List[str],
                       finish: bool = True) -> dict:
        start = time.time()
        options = options + [self.seed_option()] + self.args.cfg_options
        self.run(stage, [sys.executable, 'tools/train.py', config,
                         '--work-dir', self.stage_dir(stage),
                         '--cfg-options', *options])
        train_time = time.time() - start
        record = self.evaluate(stage, config, self.checkpoint(stage), options)
        record.update(train_time_s=train_time,
                      wall_time_s=time.time() - start)
        return self.finish(stage, record) if finish else record

    def evaluate(self, stage: str, config: str, checkpoint: str,
                 options: List[str]) -> dict:
        """Target-val metrics of ``checkpoint`` (tools/test.py)."""
        metrics_path = osp.join(self.stage_dir(stage), 'metrics.json')
        self.run(stage, [
            sys.executable, 'tools/test.py', config, checkpoint,
            '--work-dir', osp.join(self.stage_dir(stage), 'test'),
            '--metrics-json', metrics_path, '--cfg-options', *options,
            'test_evaluator.type=SubsetIoUMetric'
        ])
        with open(metrics_path) as f:
            metrics = json.load(f)
        per_class = {k[4:]: v for k, v in metrics.items()
                     if k.startswith('IoU.')}
        return dict(stage=stage, config=config, options=options,
                    checkpoint=checkpoint, mIoU=metrics['mIoU'],
                    per_class_iou=per_class, aAcc=metrics.get('aAcc'),
                    MPA=metrics.get('MPA'))

    # ------------------------------------------------------------- stages
    def stage_data(self) -> dict:
        start = time.time()
        prepare = self.spec.get('prepare_data')
        if prepare and not osp.isfile(osp.join(self.data_root, 'meta.json')):
            self.run('data', [sys.executable, prepare, '--out', self.data_root])
        if prepare:
            from cpsl_mmseg.datasets.toy import validate_toy_tree
            validate_toy_tree(self.data_root)
        return self.finish('data', dict(stage='data', data_root=self.data_root,
                                        wall_time_s=time.time() - start))

    def stage_warmup(self) -> dict:
        if self.args.warmup == 'source_only':
            record = self.train_and_test('warmup', self.spec.warmup_config,
                                         self.data_options(uda=False),
                                         finish=False)
        else:
            record = self.adversarial_warmup()
        record['warmup'] = self.args.warmup
        return self.finish('warmup', record)

    def adversarial_warmup(self) -> dict:
        """Train the adversarial warm-up, extract its segmentor and evaluate that
        with the source-only config (a plain EncoderDecoder, like the default)."""
        start = time.time()
        if 'adversarial_warmup_config' not in self.spec:
            raise KeyError(f'{self.args.config}: --warmup adversarial needs '
                           'uda_pipeline.adversarial_warmup_config')
        options = self.data_options(uda=True) + [self.seed_option()
                                                 ] + self.args.cfg_options
        self.run('warmup', [sys.executable, 'tools/train.py',
                            self.spec.adversarial_warmup_config, '--work-dir',
                            self.stage_dir('warmup'), '--cfg-options', *options])
        segmentor = osp.join(self.stage_dir('warmup'), 'segmentor.pth')
        self.run('warmup', [sys.executable, 'tools/extract_submodel.py',
                            self.checkpoint('warmup'), segmentor, '--prefix',
                            'segmentor.'])
        train_time = time.time() - start
        record = self.evaluate('warmup', self.spec.warmup_config, segmentor,
                               self.data_options(uda=False) +
                               [self.seed_option()])
        record.update(train_time_s=train_time, wall_time_s=time.time() - start)
        return record

    def stage_calibration(self) -> dict:
        start = time.time()
        out = osp.join(self.stage_dir('calibration'), 'calibrated.pth')
        self.run('calibration', [
            sys.executable, 'tools/calibrate_batch_norm.py', self.args.config,
            self.warmup_checkpoint(), '--out', out, '--cfg-options',
            *self.data_options(uda=True)
        ])
        record = self.evaluate('calibration', self.spec.warmup_config, out,
                               self.data_options(uda=False))
        record.update(wall_time_s=time.time() - start)
        return self.finish('calibration', record)

    def adaptation_start(self) -> str:
        """The checkpoint pseudo labels, prototypes and adaptation start from."""
        if self.spec.get('calibrate_batch_norm', False):
            return osp.join(self.stage_dir('calibration'), 'calibrated.pth')
        return self.warmup_checkpoint()

    def stage_pseudo_labels(self) -> dict:
        start = time.time()
        self.run('pseudo_labels', [
            sys.executable, 'tools/generate_pseudo_labels.py',
            self.args.config, self.adaptation_start(), '--out',
            self.stage_dir('pseudo_labels'), '--cfg-options',
            *self.data_options(uda=True)
        ])
        return self.finish('pseudo_labels', dict(
            stage='pseudo_labels', wall_time_s=time.time() - start))

    def cpsl_options(self) -> List[str]:
        return self.data_options(uda=True) + [
            self.pseudo_label_option(),
            f'model.warmup_checkpoint={self.adaptation_start()}'
        ]

    def stage_prototypes(self) -> dict:
        start = time.time()
        out = osp.join(self.stage_dir('prototypes'), 'statistics.pth')
        self.run('prototypes', [
            sys.executable, 'tools/compute_prototypes.py', self.args.config,
            '--out', out, '--cfg-options', *self.cpsl_options(),
            self.seed_option()
        ])
        return self.finish('prototypes', dict(
            stage='prototypes', file=out, wall_time_s=time.time() - start))

    def init_file_option(self) -> str:
        hooks = [h['type'] for h in self.cfg.custom_hooks]
        index = hooks.index('OnlineClusteringHook')
        return (f'custom_hooks.{index}.init_file='
                f'{osp.join(self.stage_dir("prototypes"), "statistics.pth")}')

    def stage_analysis(self, records: Dict[str, dict]) -> dict:
        start = time.time()
        stats = {}
        for stage in ('self_training', 'cpsl'):
            out = osp.join(self.stage_dir('analysis'), stage)
            options = records[stage]['options']
            self.run('analysis', [
                sys.executable, 'tools/analyze_pseudo_labels.py',
                self.args.config, records[stage]['checkpoint'], '--out-dir',
                out, '--cfg-options', *options
            ])
            with open(osp.join(out, 'pseudo_label_stats.json')) as f:
                stats[stage] = json.load(f)
        return self.finish('analysis', dict(
            stage='analysis', pseudo_labels=stats,
            wall_time_s=time.time() - start))

    # --------------------------------------------------------------- main
    def execute(self) -> Dict[str, dict]:
        records: Dict[str, dict] = {}
        t0 = time.time()
        uda_cfg = self.args.config
        plan = [
            ('data', self.stage_data),
            ('warmup', self.stage_warmup),
        ]
        if self.spec.get('calibrate_batch_norm', False):
            plan.append(('calibration', self.stage_calibration))
        plan += [
            ('pseudo_labels', self.stage_pseudo_labels),
            ('prototypes', self.stage_prototypes),
            ('self_training', lambda: self.train_and_test(
                'self_training', uda_cfg, self.cpsl_options() + [
                    f'{k}={v}'
                    for k, v in self.spec.self_training_options.items()
                ])),
            ('cpsl', lambda: self.train_and_test(
                'cpsl', uda_cfg,
                self.cpsl_options() + [self.init_file_option()])),
        ]
        if self.args.oracle:
            plan.append(('oracle', lambda: self.train_and_test(
                'oracle', self.spec.oracle_config,
                self.data_options(uda=False))))
        plan.append(('analysis', lambda: self.stage_analysis(records)))
        for stage, run_stage in plan:
            record = self.done(stage)
            if stage == 'warmup' and record is not None and record.get(
                    'warmup', 'source_only') != self.args.warmup:
                raise ValueError(
                    f'{self.stage_dir("warmup")} holds a '
                    f"{record.get('warmup', 'source_only')} warm-up, not "
                    f'--warmup {self.args.warmup}: pass --redo warmup (and the '
                    'later stages) or use another --work-dir')
            if record is not None:
                print(f'[pipeline] {stage}: complete, skipped', flush=True)
            else:
                record = run_stage()
                summary = f"mIoU {record['mIoU']:.2f}, " if 'mIoU' in record \
                    else ''
                print(f'[pipeline] {stage}: done ({summary}'
                      f"{record['wall_time_s']:.0f} s)", flush=True)
            records[stage] = record
        write_summary(self, records, time.time() - t0)
        return records


def stage_label(records: Dict[str, dict], stage: str) -> str:
    """Column name of a stage (warm-up columns say which warm-up it was)."""
    label = LABELS[stage]
    if stage in ('warmup', 'calibration') and records['warmup'].get(
            'warmup') == 'adversarial':
        label = label.replace('source-only', 'adversarial warm-up')
    return label


def write_summary(pipe: Pipeline, records: Dict[str, dict],
                  wall_time: float) -> None:
    """summary.json, summary.md and the figures."""
    from cpsl_mmseg.analysis.figures import (plot_class_distributions,
                                             plot_training_curves,
                                             read_scalars)
    classes = list(pipe.cfg.get('metainfo', {}).get('classes', [])) or list(
        records['cpsl']['per_class_iou'])
    evaluated = [s for s in EVALUATED if s in records]
    analysis = records['analysis']['pseudo_labels']
    summary = dict(
        config=pipe.args.config, seed=pipe.args.seed, data_root=pipe.data_root,
        warmup=records['warmup'].get('warmup', 'source_only'),
        pipeline_wall_time_s=wall_time,
        stages={s: {k: records[s][k] for k in records[s]
                    if k in ('mIoU', 'per_class_iou', 'aAcc', 'MPA',
                             'wall_time_s', 'train_time_s', 'checkpoint')}
                for s in records},
        pseudo_labels={
            s: dict(kl_gt_to_pseudo=analysis[s]['kl_gt_to_pseudo'],
                    pseudo_label_miou=analysis[s]['pseudo_label']['mIoU'],
                    p_st_argmax_miou=analysis[s]['p_st_argmax']['mIoU'],
                    pseudo_distribution=analysis[s]['pseudo_distribution'],
                    gt_distribution=analysis[s]['gt_distribution'])
            for s in analysis
        })
    with open(osp.join(pipe.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)

    lines = [f'# CPSL pipeline summary (seed {pipe.args.seed})', '',
             f'Config: `{pipe.args.config}`; data: `{pipe.data_root}`; '
             f'whole pipeline {wall_time / 60:.1f} min (stages skipped as '
             'complete count as 0).', '',
             '| class | ' + ' | '.join(stage_label(records, s)
                                       for s in evaluated) + ' |',
             '|---' * (len(evaluated) + 1) + '|']
    for name in classes:
        row = [f"{records[s]['per_class_iou'].get(name, float('nan')):.1f}"
               for s in evaluated]
        lines.append(f'| {name} | ' + ' | '.join(row) + ' |')
    lines.append('| **mIoU** | ' + ' | '.join(
        f"**{records[s]['mIoU']:.1f}**" for s in evaluated) + ' |')
    lines += ['', '| stage | wall time (s) |', '|---|---|']
    lines += [f"| {s} | {records[s]['wall_time_s']:.0f} |" for s in records]
    lines += ['', '| pseudo labels | KL(GT \\|\\| pseudo) | pseudo-label mIoU |',
              '|---|---|---|']
    for s in analysis:
        lines.append(f"| {LABELS[s]} | {analysis[s]['kl_gt_to_pseudo']:.4f} | "
                     f"{analysis[s]['pseudo_label']['mIoU']:.1f} |")
    lines += ['', '![class distribution](class_distribution.png)',
              '![training curves](training_curves.png)',
              '![CPSL qualitative](analysis/cpsl/qualitative.png)', '']
    with open(osp.join(pipe.work_dir, 'summary.md'), 'w') as f:
        f.write('\n'.join(lines))

    plot_class_distributions(
        classes, {
            'ground truth': analysis['cpsl']['gt_distribution'],
            'self-training': analysis['self_training']['pseudo_distribution'],
            'CPSL': analysis['cpsl']['pseudo_distribution'],
        }, osp.join(pipe.work_dir, 'class_distribution.png'),
        'Pseudo-label class distribution on the target train set')
    plot_training_curves(
        {stage_label(records, s): read_scalars(pipe.stage_dir(s))
         for s in evaluated if s != 'calibration'},
        osp.join(pipe.work_dir, 'training_curves.png'))
    print(f'[pipeline] summary: {osp.join(pipe.work_dir, "summary.md")}')


def main(argv=None) -> None:
    Pipeline(parse_args(argv)).execute()


if __name__ == '__main__':
    main()
