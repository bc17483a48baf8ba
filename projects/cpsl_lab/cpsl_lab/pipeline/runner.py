"""Running the stages of a pipeline config, each a tool on a config file of its own.

A stage (:mod:`.spec`) writes ``DIR/<stage>/config.py`` (:mod:`.stage_config`), runs
its tool as a subprocess, on one process or N (:mod:`.launch`), with the command and
the output in ``DIR/<stage>/<tool>.log``, and when complete ``DIR/<stage>/stage.json``
(:mod:`.records`). A complete stage whose inputs did not change is skipped on re-runs
(``--redo`` forces it); a training stage killed half-way resumes from its last
checkpoint; the files a training stage starts from are checked before any process
starts. A stage that fails writes no new record and leaves the outputs of earlier runs
as they were (tools write their outputs atomically; P_ST maps being replaced mark their
directory incomplete until done; a training stage run again starts in a fresh folder,
the previous run kept in ``train.previous`` with its record ``stage.previous.json``).
What each kind of stage does is in :mod:`.stages`.
"""
import logging
import os
import os.path as osp
import shutil
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from cpsl_mmseg.models.segmentors import UDASegmentor
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from . import stages
from .launch import Launcher
from .records import RECORD, STARTED, changed_inputs, input_digests, read_record, write_record
from .spec import StageSpec, parse_stages
from .stage_config import (Settings, deep_merge, find_step, nested, option_settings,
                           with_step_values, write_stage_config)

REPO = Path(__file__).resolve().parents[4]
LAB = REPO / 'projects' / 'cpsl_lab'
LAB_TOOLS = 'projects/cpsl_lab/tools'


class Pipeline:
    """Runs the stages of a pipeline config (a config with ``uda_pipeline.stages``).

    Args:
        config: the pipeline config (the toy CPSL config holds its own).
        work_dir: DIR, one folder per stage below it.
        seed: ``randomness.seed`` of every training stage.
        data_root: the ``data_root`` of every dataset (default: the config's, if any).
        optional: optional stages to run (``--with``; ``--oracle`` = ``oracle``).
        variants: ``{stage: variant}`` (``--variant``; ``--warmup adversarial``).
        redo: stages to run again even if complete.
        until: the last stage to run (default: all).
        cfg_options: dotted ``--cfg-options`` for every training stage.
        launcher: how distributed tools start (:class:`.launch.Launcher`).
    """

    def __init__(self, config: str, work_dir: str, seed: int = 0,
                 data_root: Optional[str] = None, optional: Sequence[str] = (),
                 variants: Optional[Dict[str, str]] = None, redo: Sequence[str] = (),
                 until: Optional[str] = None,
                 cfg_options: Optional[Dict[str, Any]] = None,
                 launcher: Launcher = Launcher()) -> None:
        if not (REPO / 'tools' / 'train.py').is_file():
            raise FileNotFoundError(f'{REPO}/tools/train.py is missing: the pipeline runs '
                                    'from a checkout of cpsl-mmseg')
        self.config = osp.abspath(config)
        self.cfg = Config.fromfile(self.config)
        if 'uda_pipeline' not in self.cfg or 'stages' not in self.cfg.uda_pipeline:
            raise KeyError(f'{config} has no uda_pipeline.stages (see projects/cpsl_lab/'
                           'configs/toy/cpsl_deeplabv3plus_r18-tiny_toy-128x64.py)')
        self.variants = dict(variants or {})
        stage_list = parse_stages(self.cfg.uda_pipeline.stages, variants=self.variants)
        self.specs = {spec.name: spec for spec in stage_list}
        for name in (*optional, *redo, *([until] if until else [])):
            if name not in self.specs:
                raise ValueError(f'no stage {name!r} in {config} (stages: '
                                 f'{list(self.specs)})')
        self.work_dir = osp.abspath(work_dir)
        self.seed = seed
        root = data_root or self.cfg.get('data_root')
        self.data_root = osp.abspath(root) if root else None
        self.optional, self.redo, self.until = set(optional), set(redo), until
        self.cfg_options = dict(cfg_options or {})
        self.launcher = launcher
        self.replacing = set()  # stages re-run over a complete record of theirs
        os.makedirs(self.work_dir, exist_ok=True)

    # -------------------------------------------------------------- paths
    @staticmethod
    def repo_path(path: str) -> str:
        """``path`` made absolute: stage configs are relative to the repository."""
        return path if osp.isabs(path) else str(REPO / path)

    def stage_dir(self, stage: str) -> str:
        return osp.join(self.work_dir, stage)

    def train_dir(self, stage: str) -> str:
        """The mmengine work dir of a training stage."""
        return osp.join(self.stage_dir(stage), 'train')

    def base_config(self, spec: StageSpec) -> str:
        return self.repo_path(spec.config) if spec.config else self.config

    def output(self, stage: str, key: str) -> str:
        """An output an earlier (complete) stage recorded, e.g. its ``segmentor``."""
        return read_record(self.stage_dir(stage))[key]

    # ------------------------------------------------------------ running
    def run(self, stage: str, tool: str, *args: str, distributed: bool = False) -> None:
        """Run ``tool`` (relative to the repository) with ``args``, on N processes when
        ``distributed``; its output goes to ``DIR/<stage>/<tool name>.log``, whose first
        line is the command."""
        os.makedirs(self.stage_dir(stage), exist_ok=True)
        cmd = self.launcher.command(tool, list(map(str, args)), distributed)
        log_path = osp.join(self.stage_dir(stage),
                            osp.splitext(osp.basename(tool))[0] + '.log')
        printable = ' '.join(cmd)
        print(f'[pipeline] {stage}: {printable}', flush=True)
        path = os.pathsep.join([str(REPO), str(LAB), os.environ.get('PYTHONPATH', '')])
        env = dict(os.environ, PYTHONPATH=path, **self.launcher.environment())
        with open(log_path, 'w') as log:
            log.write(f'$ {printable}\n')
            log.flush()
            proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            with open(log_path) as f:
                tail = ''.join(f.readlines()[-25:])
            raise RuntimeError(f'stage {stage!r} failed (exit {proc.returncode}); log: '
                               f'{log_path}\n{tail}')

    def stage_config(self, stage: str, base: str, settings: Settings,
                     training: bool = False, name: str = 'config.py') -> str:
        """Write ``DIR/<stage>/<name>`` over ``base`` with ``settings``; a training
        stage also gets its work dir (``DIR/<stage>/train``: mmengine's runner writes
        its checkpoints, logs and a dump of the merged config there), the seed and the
        user's ``--cfg-options``."""
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
        return write_stage_config(osp.join(self.stage_dir(stage), name), base,
                                  settings, header)

    def checked_config(self, stage: str, base: str, settings: Settings) -> str:
        """The training config of a stage, written as ``config.py`` only once the files
        its model starts from exist and fit by tensor name and shape (checked here,
        before any process starts; a refused stage leaves its earlier files as they
        were)."""
        draft = self.stage_config(stage, base, settings, training=True,
                                  name='config.next.py')
        self.check_inputs(draft)
        config = osp.join(self.stage_dir(stage), 'config.py')
        os.replace(draft, config)
        return config

    def check_inputs(self, config: str) -> None:
        """Build the model of ``config`` here and check the files it starts from."""
        cfg = Config.fromfile(config)
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # the stage's own log says what it loads
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                model = MODELS.build(cfg.model)
                if isinstance(model, UDASegmentor):
                    model.check_stage_inputs()
        finally:
            logger.setLevel(level)

    def train(self, stage: str, config: str) -> str:
        """``tools/train.py CONFIG`` (``--resume`` when an earlier run of this stage on
        the same inputs was interrupted; a stage run again over a complete or
        other-input run moves that run's folder to ``train.previous`` first); returns
        the checkpoint it ended with."""
        train_dir = self.train_dir(stage)
        last = osp.join(train_dir, 'last_checkpoint')
        if stage in self.replacing and osp.isdir(train_dir):
            # Start over, keeping the previous run (one generation) aside; its record
            # named files that move, so the stage is incomplete until this run ends.
            shutil.rmtree(train_dir + '.previous', ignore_errors=True)
            os.replace(train_dir, train_dir + '.previous')
            record = osp.join(self.stage_dir(stage), RECORD)
            if osp.isfile(record):
                os.replace(record, osp.join(self.stage_dir(stage), 'stage.previous.json'))
        resume = ['--resume'] if osp.isfile(last) else []
        self.run(stage, 'tools/train.py', config, *resume, distributed=True)
        with open(last) as f:
            return osp.join(self.train_dir(stage), f.read().strip())

    def evaluate(self, stage: str, config: str, checkpoint: str) -> dict:
        """Metrics of ``checkpoint`` under ``config`` (tools/test.py)."""
        metrics_path = osp.join(self.stage_dir(stage), 'metrics.json')
        self.run(stage, 'tools/test.py', config, checkpoint, '--work-dir',
                 osp.join(self.stage_dir(stage), 'test'), '--metrics-json',
                 metrics_path, distributed=True)
        return stages.read_metrics(metrics_path)

    # ----------------------------------------------------- stage settings
    def data_settings(self, base: str) -> Settings:
        """``data_root`` of every dataset of ``base`` (when the pipeline has one) and
        the per-class metric of the evaluation."""
        settings: Settings = dict(test_evaluator=dict(type='SubsetIoUMetric'))
        if self.data_root is None:
            return settings
        cfg = Config.fromfile(base)
        train = cfg.train_dataloader.dataset
        streams = ('source', 'target') if train.get('type') == 'UDADataset' else ()
        keys = [f'train_dataloader.dataset.{s}' for s in streams] or [
            'train_dataloader.dataset']
        for key in keys + ['val_dataloader.dataset', 'test_dataloader.dataset']:
            settings = deep_merge(settings, nested(f'{key}.data_root', self.data_root))
        return settings

    def input_settings(self, spec: StageSpec, base: str) -> Settings:
        """The inputs a stage reads from earlier stages, by name (:mod:`.spec`), and its
        own ``options``."""
        cfg = Config.fromfile(base)
        settings = self.data_settings(base)
        if spec.options:
            settings = deep_merge(settings, option_settings(cfg, spec.options))
        if spec.network:
            settings = deep_merge(settings, nested(
                'model.warmup_checkpoint', self.output(spec.network, 'segmentor')))
        if spec.teacher:
            settings = deep_merge(settings, nested(
                'model.teacher_checkpoint', self.output(spec.teacher, 'checkpoint')))
        if spec.pseudo_labels:
            pipeline = cfg.train_dataloader.dataset.target.pipeline
            settings = deep_merge(settings, nested(
                'train_dataloader.dataset.target.pipeline', with_step_values(
                    pipeline, 'LoadSoftPseudoLabel',
                    f'{base}: train_dataloader.dataset.target.pipeline',
                    pseudo_label_dir=self.output(spec.pseudo_labels, 'directory'))))
        if spec.statistics:
            settings['custom_hooks'] = with_step_values(
                cfg.custom_hooks, 'OnlineClusteringHook', f'{base}: custom_hooks',
                init_file=self.output(spec.statistics, 'file'))
        return settings

    def loads_p_st(self, base: str) -> bool:
        target = Config.fromfile(base).train_dataloader.dataset.get('target')
        return target is not None and find_step(
            target.pipeline, 'LoadSoftPseudoLabel') is not None

    # --------------------------------------------------------------- main
    def done(self, spec: StageSpec) -> Optional[dict]:
        """The record of a complete stage whose inputs are unchanged (else None)."""
        record = read_record(self.stage_dir(spec.name))
        if record is None or spec.name in self.redo or not stages.outputs_valid(
                self, spec):
            return None
        changed = changed_inputs(record, stages.inputs(self, spec))
        if changed:
            print(f'[pipeline] {spec.name}: inputs changed since it ran '
                  f'({", ".join(changed)}), running it again', flush=True)
            return None
        return record

    def run_stage(self, spec: StageSpec) -> dict:
        """The record of a stage: read when complete, else made by running it."""
        previous = read_record(self.stage_dir(spec.name))
        variant = self.variants.get(spec.name, 'default')
        if previous is not None and previous.get('variant', 'default') != variant \
                and spec.name not in self.redo:
            raise ValueError(
                f'{self.stage_dir(spec.name)} holds the {previous.get("variant")!r} '
                f'variant of stage {spec.name!r}, not {variant!r}: pass --redo '
                f'{spec.name} or use another --work-dir')
        record = self.done(spec)
        if record is not None:
            print(f'[pipeline] {spec.name}: complete, skipped', flush=True)
            return record
        inputs = input_digests(stages.inputs(self, spec))
        started = read_record(self.stage_dir(spec.name), STARTED)
        if previous is not None or (started is not None and started != inputs):
            # a complete stage run again, or one interrupted on other inputs: start over
            self.replacing.add(spec.name)
        write_record(self.stage_dir(spec.name), inputs, STARTED)
        start = time.time()
        record = stages.run(self, spec)
        record.update(stage=spec.name, kind=spec.kind, label=spec.title, variant=variant,
                      inputs=inputs, wall_time_s=time.time() - start)
        write_record(self.stage_dir(spec.name), record)
        summary = f"mIoU {record['mIoU']:.2f}, " if 'mIoU' in record else ''
        print(f"[pipeline] {spec.name}: done ({summary}{record['wall_time_s']:.0f} s)",
              flush=True)
        return record

    def plan(self) -> List[StageSpec]:
        """The stages to run, in order: optional ones only when asked, up to ``until``."""
        plan = []
        for spec in self.specs.values():
            if not spec.optional or spec.name in self.optional:
                plan.append(spec)
            if spec.name == self.until:
                break
        return plan

    def execute(self) -> Dict[str, dict]:
        """Run (or skip) every stage of the plan, then write the summary."""
        from .summary import write_summary
        records: Dict[str, dict] = {}
        start = time.time()
        for spec in self.plan():
            records[spec.name] = self.run_stage(spec)
        write_summary(self, records, time.time() - start)
        return records
