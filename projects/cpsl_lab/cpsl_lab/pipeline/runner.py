"""The stages of the toy pipeline, each a tool run from a config file of its own.

A stage writes ``DIR/<stage>/config.py`` (:mod:`.stage_config`), runs its tool as a
subprocess (command and output in ``DIR/<stage>/<tool>.log``), and, when complete,
``DIR/<stage>/stage.json`` (:mod:`.records`): a complete stage whose inputs did not
change is skipped on re-runs (``--redo`` forces it). A stage that fails writes no new
record and leaves the outputs of earlier runs as they were (tools write their outputs
atomically; P_ST maps being replaced mark their directory incomplete until done).
Stages, in order:

  data           prepare (toy domains) and validate the data tree
  warmup         source-only training (``uda_pipeline.warmup_config``), or the
                 output-space adversarial warm-up (``adversarial_warmup_config``)
                 with its segmentor extracted to ``warmup/segmentor.pth`` -> evaluated
  calibration    (``calibrate_batch_norm``) the warm-up's BN statistics re-estimated
                 on the target training images                        -> evaluated
  pseudo_labels  P_ST of every target training image
  prototypes     Eq. 7 prototypes + Eq. 10 class counts
  self_training  the baseline ``self_training_config`` (MeanTeacherSelfTraining)
  cpsl           CPSL                                                 -> evaluated
  oracle         (``--oracle``) trained on target labels              -> evaluated
  analysis       pseudo-label class distributions vs ground truth, figures
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from cpsl_mmseg.datasets.pseudo_label_dir import META_FILE as PROVENANCE
from cpsl_mmseg.datasets.pseudo_label_dir import read_provenance
from cpsl_mmseg.datasets.target_stream import loading_steps
from mmengine.config import Config

from .records import changed_inputs, input_digests, read_record, write_record
from .stage_config import (Settings, deep_merge, find_step, nested, option_settings,
                           plain, with_step_values, write_stage_config)

STAGES = ('data', 'warmup', 'calibration', 'pseudo_labels', 'prototypes', 'self_training',
          'cpsl', 'oracle', 'analysis')
REPO = Path(__file__).resolve().parents[4]
LAB = REPO / 'projects' / 'cpsl_lab'
LAB_TOOLS = 'projects/cpsl_lab/tools'


class Pipeline:
    """Runs the stages of a pipeline config (a CPSL config with ``uda_pipeline``).

    Args:
        config: the CPSL config; ``uda_pipeline`` names the other stage configs.
        work_dir: DIR, one folder per stage below it.
        seed: ``randomness.seed`` of every training stage.
        warmup: ``'source_only'`` or ``'adversarial'``.
        data_root: overrides the config's ``data_root``.
        oracle: also train the target oracle.
        redo: stages to run again even if complete.
        cfg_options: dotted ``--cfg-options`` for every training stage.
    """

    def __init__(self, config: str, work_dir: str, seed: int = 0,
                 warmup: str = 'source_only', data_root: Optional[str] = None,
                 oracle: bool = False, redo: Tuple[str, ...] = (),
                 cfg_options: Optional[Dict[str, Any]] = None) -> None:
        if not (REPO / 'tools' / 'train.py').is_file():
            raise FileNotFoundError(f'{REPO}/tools/train.py is missing: the pipeline runs '
                                    'from a checkout of cpsl-mmseg')
        self.config = osp.abspath(config)
        self.cfg = Config.fromfile(self.config)
        if 'uda_pipeline' not in self.cfg:
            raise KeyError(f'{config} has no uda_pipeline entry (see projects/cpsl_lab/'
                           'configs/toy/cpsl_deeplabv3plus_r18-tiny_toy-128x64.py)')
        self.spec = self.cfg.uda_pipeline
        self.work_dir = osp.abspath(work_dir)
        self.seed = seed
        self.warmup_kind = warmup
        self.data_root = osp.abspath(data_root or self.cfg.data_root)
        self.with_oracle = oracle
        self.redo = tuple(redo)
        self.cfg_options = dict(cfg_options or {})
        self.replacing = set()  # stages re-run over a complete record of theirs
        os.makedirs(self.work_dir, exist_ok=True)

    # ------------------------------------------------------------ helpers
    @staticmethod
    def repo_path(path: str) -> str:
        """``path`` made absolute: ``uda_pipeline`` paths are relative to the repository."""
        return path if osp.isabs(path) else str(REPO / path)

    def stage_dir(self, stage: str) -> str:
        return osp.join(self.work_dir, stage)

    def train_dir(self, stage: str) -> str:
        """The mmengine work dir of a training stage."""
        return osp.join(self.stage_dir(stage), 'train')

    def done(self, stage: str) -> Optional[dict]:
        """The record of a complete stage whose inputs are unchanged (else None)."""
        record = read_record(self.stage_dir(stage))
        if record is None or stage in self.redo:
            return None
        if stage == 'pseudo_labels' and not (read_provenance(
                self.stage_dir(stage)) or {}).get('complete', False):
            return None  # a regeneration of the maps was interrupted
        changed = changed_inputs(record, self.stage_inputs(stage))
        if changed:
            print(f'[pipeline] {stage}: inputs changed since it ran '
                  f'({", ".join(changed)}), running it again', flush=True)
            return None
        return record

    def run(self, stage: str, tool: str, *args: str) -> None:
        """Run ``tool`` (relative to the repository) with ``args``; its output goes to
        ``DIR/<stage>/<tool name>.log``, whose first line is the command."""
        os.makedirs(self.stage_dir(stage), exist_ok=True)
        cmd = [sys.executable, tool, *map(str, args)]
        log_path = osp.join(self.stage_dir(stage),
                            osp.splitext(osp.basename(tool))[0] + '.log')
        printable = ' '.join(cmd)
        print(f'[pipeline] {stage}: {printable}', flush=True)
        path = os.pathsep.join([str(REPO), str(LAB), os.environ.get('PYTHONPATH', '')])
        with open(log_path, 'w') as log:
            log.write(f'$ {printable}\n')
            log.flush()
            proc = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, PYTHONPATH=path),
                                  stdout=log, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            with open(log_path) as f:
                tail = ''.join(f.readlines()[-25:])
            raise RuntimeError(f'stage {stage!r} failed (exit {proc.returncode}); log: '
                               f'{log_path}\n{tail}')

    def stage_config(self, stage: str, base: str, settings: Settings,
                     training: bool = False) -> str:
        """Write ``DIR/<stage>/config.py`` over ``base`` with ``settings``; a training
        stage also gets its work dir (``DIR/<stage>/train``: mmengine's runner writes
        its checkpoints, logs and a dump of the merged config there), the seed and the
        user's ``--cfg-options``."""
        base = self.repo_path(base)
        if training:
            settings = deep_merge(settings, dict(
                work_dir=self.train_dir(stage), randomness=dict(seed=self.seed)))
            if self.cfg_options:
                merged = Config.fromfile(base)
                merged.merge_from_dict(settings)
                settings = deep_merge(settings,
                                      option_settings(merged, self.cfg_options))
        header = (f'Stage {stage!r} of the pipeline in {self.work_dir}\n'
                  f'(written by {LAB_TOOLS}/run_pipeline.py {self.config}).')
        if training:
            header += f'\nRe-run by hand: python tools/train.py {self.stage_dir(stage)}' \
                      '/config.py'
        return write_stage_config(osp.join(self.stage_dir(stage), 'config.py'), base,
                                  settings, header)

    def train(self, stage: str, config: str) -> str:
        """``tools/train.py CONFIG``; returns the checkpoint it ended with."""
        self.run(stage, 'tools/train.py', config)
        with open(osp.join(self.train_dir(stage), 'last_checkpoint')) as f:
            return osp.join(self.train_dir(stage), f.read().strip())

    def evaluate(self, stage: str, config: str, checkpoint: str) -> dict:
        """Target-val metrics of ``checkpoint`` under ``config`` (tools/test.py)."""
        metrics_path = osp.join(self.stage_dir(stage), 'metrics.json')
        self.run(stage, 'tools/test.py', config, checkpoint, '--work-dir',
                 osp.join(self.stage_dir(stage), 'test'), '--metrics-json', metrics_path)
        with open(metrics_path) as f:
            metrics = json.load(f)
        per_class = {k[4:]: v for k, v in metrics.items() if k.startswith('IoU.')}
        return dict(stage=stage, config=config, checkpoint=checkpoint,
                    mIoU=metrics['mIoU'], per_class_iou=per_class,
                    aAcc=metrics.get('aAcc'), MPA=metrics.get('MPA'))

    # ----------------------------------------------------- stage settings
    def data_settings(self, base: str) -> Settings:
        """``data_root`` of every dataset of ``base`` (the train datasets, val, test) and
        the per-class metric of the evaluation."""
        cfg = Config.fromfile(self.repo_path(base))
        train = cfg.train_dataloader.dataset
        streams = ('source', 'target') if train.get('type') == 'UDADataset' else ()
        settings: Settings = {}
        for key in [f'train_dataloader.dataset.{s}' for s in streams] or [
                'train_dataloader.dataset']:
            settings = deep_merge(settings, nested(f'{key}.data_root', self.data_root))
        for key in ('val_dataloader', 'test_dataloader'):
            settings = deep_merge(settings, nested(f'{key}.dataset.data_root',
                                                   self.data_root))
        return deep_merge(settings, dict(test_evaluator=dict(type='SubsetIoUMetric')))

    def input_settings(self, base: str, init_file: bool = False) -> Settings:
        """An adaptation stage's inputs: data, the warm-up network, the P_ST directory
        (when the target pipeline loads P_ST) and, with ``init_file``, the Eq. 7/10
        statistics of the prototypes stage (``OnlineClusteringHook.init_file``)."""
        cfg = Config.fromfile(self.repo_path(base))
        settings = deep_merge(self.data_settings(base), dict(
            model=dict(warmup_checkpoint=self.adaptation_start())))
        pipeline = cfg.train_dataloader.dataset.target.pipeline
        if find_step(pipeline, 'LoadSoftPseudoLabel') is not None:
            settings = deep_merge(settings, nested(
                'train_dataloader.dataset.target.pipeline', with_step_values(
                    pipeline, 'LoadSoftPseudoLabel',
                    f'{base}: train_dataloader.dataset.target.pipeline',
                    pseudo_label_dir=self.stage_dir('pseudo_labels'))))
        if init_file:
            settings['custom_hooks'] = with_step_values(
                cfg.custom_hooks, 'OnlineClusteringHook', f'{base}: custom_hooks',
                init_file=self.statistics_file())
        return settings

    def warmup_checkpoint(self) -> str:
        """The warm-up network as a plain segmentor file (recorded by its stage)."""
        with open(osp.join(self.stage_dir('warmup'), 'stage.json')) as f:
            return json.load(f)['segmentor_checkpoint']

    def adaptation_start(self) -> str:
        """The checkpoint pseudo labels, prototypes and adaptation start from."""
        if self.spec.get('calibrate_batch_norm', False):
            return osp.join(self.stage_dir('calibration'), 'calibrated.pth')
        return self.warmup_checkpoint()

    def statistics_file(self) -> str:
        return osp.join(self.stage_dir('prototypes'), 'statistics.pth')

    def loads_p_st(self, base: str) -> bool:
        pipeline = Config.fromfile(self.repo_path(base)).train_dataloader.dataset.target
        return find_step(pipeline.pipeline, 'LoadSoftPseudoLabel') is not None

    def stage_inputs(self, stage: str) -> List[str]:
        """The files a stage reads from earlier stages (see :mod:`.records`)."""
        if stage in ('data', 'warmup', 'oracle'):
            return []
        if stage == 'calibration':
            return [self.warmup_checkpoint()]
        if stage == 'analysis':
            return [read_record(self.stage_dir(s))['checkpoint']
                    for s in ('self_training', 'cpsl')]
        inputs = [self.adaptation_start()]
        p_st = osp.join(self.stage_dir('pseudo_labels'), PROVENANCE)
        if stage == 'self_training':
            return inputs + ([p_st] if self.loads_p_st(self.spec.self_training_config)
                             else [])
        if stage == 'pseudo_labels':
            return inputs
        if stage == 'prototypes':
            return inputs + [p_st]
        return inputs + [p_st, self.statistics_file()]  # cpsl and its ablations

    # ------------------------------------------------------------- stages
    def stage_data(self) -> dict:
        prepare = self.spec.get('prepare_data')
        if prepare and not osp.isfile(osp.join(self.data_root, 'meta.json')):
            self.run('data', prepare, '--out', self.data_root)
        if prepare:
            from ..toy_world import validate_toy_tree
            validate_toy_tree(self.data_root)
        return dict(stage='data', data_root=self.data_root)

    def stage_warmup(self) -> dict:
        if self.warmup_kind == 'source_only':
            base = self.spec.warmup_config
        elif 'adversarial_warmup_config' in self.spec:
            base = self.spec.adversarial_warmup_config
        else:
            raise KeyError(f'{self.config}: --warmup adversarial needs '
                           'uda_pipeline.adversarial_warmup_config')
        config = self.stage_config('warmup', base, self.data_settings(base), True)
        checkpoint = self.train('warmup', config)
        segmentor = checkpoint
        if self.warmup_kind == 'adversarial':
            segmentor = osp.join(self.stage_dir('warmup'), 'segmentor.pth')
            self.run('warmup', 'tools/extract_submodel.py', checkpoint, segmentor,
                     '--prefix', 'student.')
        record = self.evaluate('warmup', config, checkpoint)
        record.update(warmup=self.warmup_kind, segmentor_checkpoint=segmentor)
        return record

    def stage_calibration(self) -> dict:
        base = self.spec.warmup_config
        target = plain(self.cfg.train_dataloader.dataset.target)
        target.update(data_root=self.data_root,
                      pipeline=loading_steps(target['pipeline'], with_soft_labels=False))
        config = self.stage_config('calibration', base, deep_merge(
            self.data_settings(base), dict(target_train_dataset=target)))
        out = osp.join(self.stage_dir('calibration'), 'calibrated.pth')
        self.run('calibration', f'{LAB_TOOLS}/calibrate_batch_norm.py', config,
                 self.warmup_checkpoint(), '--out', out)
        return self.evaluate('calibration', config, out)

    def stage_pseudo_labels(self) -> dict:
        config = self.stage_config('pseudo_labels', self.config,
                                   self.data_settings(self.config))
        overwrite = ['--overwrite'] if 'pseudo_labels' in self.replacing else []
        self.run('pseudo_labels', 'tools/generate_pseudo_labels.py', config,
                 self.adaptation_start(), '--out', self.stage_dir('pseudo_labels'),
                 *overwrite)
        return dict(stage='pseudo_labels', config=config)

    def stage_prototypes(self) -> dict:
        config = self.stage_config('prototypes', self.config,
                                   self.input_settings(self.config))
        self.run('prototypes', 'tools/compute_prototypes.py', config, '--out',
                 self.statistics_file())
        return dict(stage='prototypes', config=config, file=self.statistics_file())

    def train_and_test(self, stage: str, base: str, settings: Settings) -> dict:
        config = self.stage_config(stage, base, settings, training=True)
        return self.evaluate(stage, config, self.train(stage, config))

    def cpsl_settings(self) -> Settings:
        """The inputs of the CPSL stage (and of its ablations)."""
        return self.input_settings(self.config, init_file=True)

    def stage_analysis(self, records: Dict[str, dict]) -> dict:
        stats = {}
        for stage in ('self_training', 'cpsl'):
            out = osp.join(self.stage_dir('analysis'), stage)
            self.run('analysis', f'{LAB_TOOLS}/analyze_pseudo_labels.py',
                     records[stage]['config'], records[stage]['checkpoint'],
                     '--out-dir', out)
            with open(osp.join(out, 'pseudo_label_stats.json')) as f:
                stats[stage] = json.load(f)
        return dict(stage='analysis', pseudo_labels=stats)

    # --------------------------------------------------------------- main
    def plan(self, records: Dict[str, dict]) -> List[Tuple[str, Callable[[], dict]]]:
        """(stage, function) in order; each function returns the stage's record."""
        spec = self.spec
        plan = [('data', self.stage_data), ('warmup', self.stage_warmup)]
        if spec.get('calibrate_batch_norm', False):
            plan.append(('calibration', self.stage_calibration))
        plan += [
            ('pseudo_labels', self.stage_pseudo_labels),
            ('prototypes', self.stage_prototypes),
            ('self_training', lambda: self.train_and_test(
                'self_training', spec.self_training_config,
                self.input_settings(spec.self_training_config))),
            ('cpsl', lambda: self.train_and_test('cpsl', self.config,
                                                 self.cpsl_settings())),
        ]
        if self.with_oracle:
            plan.append(('oracle', lambda: self.train_and_test(
                'oracle', spec.oracle_config, self.data_settings(spec.oracle_config))))
        plan.append(('analysis', lambda: self.stage_analysis(records)))
        return plan

    def run_stage(self, stage: str, function: Callable[[], dict]) -> dict:
        """The record of ``stage``: read when complete, else made by ``function``."""
        record = read_record(self.stage_dir(stage))
        if stage == 'warmup' and record is not None and record.get(
                'warmup', 'source_only') != self.warmup_kind:
            if stage not in self.redo:
                raise ValueError(
                    f'{self.stage_dir("warmup")} holds a {record.get("warmup")} warm-up,'
                    f' not --warmup {self.warmup_kind}: pass --redo warmup or use '
                    'another --work-dir')
        record = self.done(stage)
        if record is not None:
            print(f'[pipeline] {stage}: complete, skipped', flush=True)
            return record
        if read_record(self.stage_dir(stage)) is not None:
            self.replacing.add(stage)
        start = time.time()
        record = function()
        record.update(inputs=input_digests(self.stage_inputs(stage)),
                      wall_time_s=time.time() - start)
        write_record(self.stage_dir(stage), record)
        summary = f"mIoU {record['mIoU']:.2f}, " if 'mIoU' in record else ''
        print(f"[pipeline] {stage}: done ({summary}{record['wall_time_s']:.0f} s)",
              flush=True)
        return record

    def execute(self) -> Dict[str, dict]:
        """Run (or skip) every stage, then write the summary; returns the records."""
        from .summary import write_summary
        records: Dict[str, dict] = {}
        start = time.time()
        for stage, function in self.plan(records):
            records[stage] = self.run_stage(stage, function)
        write_summary(self, records, time.time() - start)
        return records
