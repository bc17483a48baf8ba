"""Running the stages of a pipeline config, each a tool on a config file of its own.

A stage (:mod:`.spec`) writes ``DIR/<stage>/config.py`` (:mod:`.stage_config`,
:mod:`.settings`), runs its tool as a subprocess in the current directory, on one
process or N (:mod:`.launch`), with the command and the output in
``DIR/<stage>/<tool>.log``, and when complete ``DIR/<stage>/stage.json``
(:mod:`.records`). A complete stage whose inputs did not change is skipped on re-runs
(``--redo`` forces it); a training stage killed half-way resumes from its last
checkpoint; the files a training stage starts from are checked before any process
starts. A stage that fails writes no new record and leaves the outputs of earlier runs
as they were (tools write their outputs atomically; P_ST maps being replaced mark their
directory incomplete until done; a training stage run again starts in a fresh folder,
the previous run kept in ``train.previous`` with its record ``stage.previous.json``).
With ``dry_run`` the same stage code only reports what it would write and run
(:mod:`.dry_run`). What each kind of stage does is in :mod:`.stages`.
"""
import importlib
import logging
import os
import os.path as osp
import shutil
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from ..models.segmentors import UDASegmentor
from . import adaptation
from .dry_run import StageReport, print_skipped
from .kinds import stage_kind
from .launch import Launcher, child_environment, run_logged, tool_name
from .records import RECORD, STARTED, changed_inputs, input_digests, read_record, write_record
from .settings import SHAREABLE
from .spec import StageSpec, parse_stages, stage_config_path
from .stage_config import Settings, deep_merge, option_settings, write_stage_config

TRAIN_TOOL = 'cpsl_mmseg.tools.train'
TEST_TOOL = 'cpsl_mmseg.tools.test'


class Pipeline:
    """Runs the stages of a pipeline config (a config with ``uda_pipeline.stages``).

    Args:
        config: the pipeline config.
        work_dir: DIR, one folder per stage below it.
        seed: ``randomness.seed`` of every training stage.
        data_root: when given, the ``data_root`` of every dataset of every stage
            (``--data-root``; otherwise dataset paths are used as the configs write them).
        optional: optional stages to run (``--with``).
        variants: ``{stage: variant}`` (``--variant``).
        redo: stages to run again even if complete.
        until: the last stage to run (default: all).
        cfg_options: dotted ``--cfg-options`` for every stage's config.
        launcher: how distributed tools start (:class:`.launch.Launcher`).
        dry_run: only report every stage's config, commands, inputs, outputs and
            checks; run and write nothing.
    """

    def __init__(self, config: str, work_dir: str, seed: int = 0,
                 data_root: Optional[str] = None, optional: Sequence[str] = (),
                 variants: Optional[Dict[str, str]] = None, redo: Sequence[str] = (),
                 until: Optional[str] = None,
                 cfg_options: Optional[Dict[str, Any]] = None,
                 launcher: Launcher = Launcher(), dry_run: bool = False) -> None:
        self.config = osp.abspath(config)
        self.cfg = Config.fromfile(self.config)  # imports its custom_imports
        self.cfg_options = dict(cfg_options or {})
        self.cfg.merge_from_dict(self.cfg_options)
        pipeline = self.cfg.get('uda_pipeline', {})
        if 'stages' not in pipeline:
            raise KeyError(f'{config} has no uda_pipeline.stages (docs/pipeline.md)')
        self.imports = ['cpsl_mmseg', *self.cfg.get('custom_imports', {}).get(
            'imports', []), *pipeline.get('imports', [])]
        for module in pipeline.get('imports', []):
            importlib.import_module(module)  # registers its stage kinds
        self.share = tuple(pipeline.get('share', ()))
        if set(self.share) - set(SHAREABLE):
            raise ValueError(f'{config}: uda_pipeline.share={list(self.share)}: each '
                             f'entry must be one of {SHAREABLE}')
        self.variants = dict(variants or {})
        stage_list = parse_stages(pipeline.stages, variants=self.variants)
        self.specs = {spec.name: spec for spec in stage_list}
        for index, spec in enumerate(stage_list):
            stage_config_path(spec, index, self.config)
        for name in (*optional, *redo, *([until] if until else [])):
            if name not in self.specs:
                raise ValueError(f'no stage {name!r} in {config} (stages: '
                                 f'{list(self.specs)})')
        self.work_dir = osp.abspath(work_dir)
        self.seed = seed
        self.data_root = osp.abspath(data_root) if data_root else None
        self.optional, self.redo, self.until = set(optional), set(redo), until
        self.launcher = launcher
        self.dry_run = dry_run
        self.report: Optional[StageReport] = None  # the stage being dry-run
        self.records: Dict[str, dict] = {}  # of this run (planned ones in a dry run)
        self.replacing = set()  # stages re-run over a complete record of theirs
        if not dry_run:
            os.makedirs(self.work_dir, exist_ok=True)

    # -------------------------------------------------------------- paths
    def stage_dir(self, stage: str) -> str:
        return osp.join(self.work_dir, stage)

    def train_dir(self, stage: str) -> str:
        """The mmengine work dir of a training stage."""
        return osp.join(self.stage_dir(stage), 'train')

    def base_config(self, spec: StageSpec) -> str:
        """The stage's config (absolute; relative to the current directory)."""
        index = list(self.specs).index(spec.name) if spec.name in self.specs else -1
        return stage_config_path(spec, index, self.config)

    def record(self, stage: str) -> dict:
        """The record of an earlier stage (in a dry run, the one it would write).

        Raises:
            FileNotFoundError: naming the stage when it has not completed.
        """
        record = self.records.get(stage) or read_record(self.stage_dir(stage))
        if record is None:
            raise FileNotFoundError(f'stage {stage!r} has not completed (no '
                                    f'{osp.join(self.stage_dir(stage), RECORD)})')
        return record

    def output(self, stage: str, key: str) -> str:
        """An output an earlier stage recorded, e.g. its ``segmentor``."""
        return self.record(stage)[key]

    # ------------------------------------------------------------ running
    def run(self, stage: str, tool: str, *args: str, distributed: bool = False) -> None:
        """Run ``tool`` (a module, or a script path ending in ``.py``) with ``args``, on
        N processes when ``distributed``; its output goes to ``DIR/<stage>/<tool
        name>.log``, whose first line is the command."""
        cmd = self.launcher.command(tool, list(map(str, args)), distributed)
        printable = ' '.join(cmd)
        if self.dry_run:
            self.report.commands.append(printable)
            return
        os.makedirs(self.stage_dir(stage), exist_ok=True)
        print(f'[pipeline] {stage}: {printable}', flush=True)
        env = child_environment(self.imports, self.launcher.environment())
        run_logged(cmd, osp.join(self.stage_dir(stage), tool_name(tool) + '.log'), env,
                   f'stage {stage!r}')

    def stage_config(self, stage: str, base: str, settings: Settings,
                     training: bool = False, name: str = 'config.py') -> str:
        """Write ``DIR/<stage>/<name>`` over ``base`` with ``settings`` and the user's
        ``--cfg-options``; a training stage also gets its work dir
        (``DIR/<stage>/train``: mmengine's runner writes its checkpoints, logs and a
        dump of the merged config there) and the seed."""
        if training:
            settings = deep_merge(settings, dict(
                work_dir=self.train_dir(stage), randomness=dict(seed=self.seed)))
        if self.cfg_options:
            merged = Config.fromfile(base)
            merged.merge_from_dict(settings)
            settings = deep_merge(settings, option_settings(merged, self.cfg_options))
        path = osp.join(self.stage_dir(stage), name)
        if self.dry_run:
            self.report.configs.append((osp.join(self.stage_dir(stage), 'config.py'),
                                        base, list(settings)))
            self.report.merged = Config.fromfile(base)
            self.report.merged.merge_from_dict(settings)
            return osp.join(self.stage_dir(stage), 'config.py')
        header = (f'Stage {stage!r} of the pipeline in {self.work_dir}\n'
                  f'(written by tools/run_pipeline.py {self.config}).')
        if training:
            header += f'\nRe-run by hand: python tools/train.py {self.stage_dir(stage)}' \
                      '/config.py'
        return write_stage_config(path, base, settings, header)

    def checked_config(self, stage: str, base: str, settings: Settings) -> str:
        """The training config of a stage, written as ``config.py`` only once the files
        its model starts from exist and fit by tensor name and shape (checked here,
        before any process starts; a refused stage leaves its earlier files as they
        were)."""
        draft = self.stage_config(stage, base, settings, training=True,
                                  name='config.next.py')
        if self.dry_run:
            return draft
        self.check_inputs(draft)
        config = osp.join(self.stage_dir(stage), 'config.py')
        os.replace(draft, config)
        return config

    @staticmethod
    def check_inputs(config: str) -> None:
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
        """``python -m cpsl_mmseg.tools.train CONFIG`` (``--resume`` when an earlier run
        of this stage on the same inputs was interrupted; a stage run again over a
        complete or other-input run moves that run's folder to ``train.previous``
        first); returns the checkpoint it ended with."""
        train_dir = self.train_dir(stage)
        last = osp.join(train_dir, 'last_checkpoint')
        resume = ['--resume'] if osp.isfile(last) and stage not in self.replacing else []
        if self.dry_run:
            self.run(stage, TRAIN_TOOL, config, *resume, distributed=True)
            max_iters = self.report.merged.get('train_cfg', {}).get('max_iters')
            name = f'iter_{max_iters}.pth' if max_iters else '<last checkpoint>'
            return osp.join(train_dir, name)
        if stage in self.replacing and osp.isdir(train_dir):
            # Start over, keeping the previous run (one generation) aside; its record
            # named files that move, so the stage is incomplete until this run ends.
            shutil.rmtree(train_dir + '.previous', ignore_errors=True)
            os.replace(train_dir, train_dir + '.previous')
            record = osp.join(self.stage_dir(stage), RECORD)
            if osp.isfile(record):
                os.replace(record, osp.join(self.stage_dir(stage), 'stage.previous.json'))
        self.run(stage, TRAIN_TOOL, config, *resume, distributed=True)
        with open(last) as f:
            return osp.join(self.train_dir(stage), f.read().strip())

    def evaluate(self, stage: str, config: str, checkpoint: str) -> dict:
        """Metrics of ``checkpoint`` under ``config`` (``cpsl_mmseg.tools.test``)."""
        metrics_path = osp.join(self.stage_dir(stage), 'metrics.json')
        self.run(stage, TEST_TOOL, config, checkpoint, '--work-dir',
                 osp.join(self.stage_dir(stage), 'test'), '--metrics-json',
                 metrics_path, distributed=True)
        if self.dry_run:
            return dict(metrics=metrics_path)
        return adaptation.read_metrics(metrics_path)

    # --------------------------------------------------------------- main
    def done(self, spec: StageSpec) -> Optional[dict]:
        """The record of a complete stage whose inputs are unchanged (else None)."""
        kind = stage_kind(spec.kind)
        record = read_record(self.stage_dir(spec.name))
        if record is None or spec.name in self.redo or not kind.outputs_valid(self, spec):
            return None
        changed = changed_inputs(record, kind.inputs(self, spec))
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
        kind = stage_kind(spec.kind)
        record = self.done(spec)
        if record is not None:
            if self.dry_run:
                print_skipped(spec, record)
            else:
                print(f'[pipeline] {spec.name}: complete, skipped', flush=True)
            self.records[spec.name] = record
            return record
        inputs = input_digests(kind.inputs(self, spec)) if not self.dry_run else {}
        started = read_record(self.stage_dir(spec.name), STARTED)
        if previous is not None or (started is not None and started != inputs
                                    and not self.dry_run):
            # a complete stage run again, or one interrupted on other inputs: start over
            self.replacing.add(spec.name)
        if self.dry_run:
            return self.dry_run_stage(spec, kind)
        write_record(self.stage_dir(spec.name), inputs, STARTED)
        start = time.time()
        record = kind.run(self, spec)
        record.update(stage=spec.name, kind=spec.kind, label=spec.title, variant=variant,
                      inputs=inputs, wall_time_s=time.time() - start)
        record.update(adaptation.start_comparison(self, spec, record))
        write_record(self.stage_dir(spec.name), record)
        self.records[spec.name] = record
        summary = f"mIoU {record['mIoU']:.2f}, " if 'mIoU' in record else ''
        print(f"[pipeline] {spec.name}: done ({summary}{record['wall_time_s']:.0f} s)",
              flush=True)
        adaptation.warn_if_below_start(self, spec, record)
        return record

    def dry_run_stage(self, spec: StageSpec, kind) -> dict:
        """Report what running ``spec`` would do; its outputs are planned, not made."""
        self.report = StageReport(spec, kind.checks(self, spec))
        record = kind.run(self, spec)
        self.records[spec.name] = record
        self.report.inputs = kind.inputs(self, spec)
        self.report.print(self, record)
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
        """Run (or skip) every stage of the plan, then write the summary (a dry run
        prints the plan and writes nothing)."""
        from .summary import write_summary
        start = time.time()
        if self.dry_run:
            print(f'[dry-run] {self.config} -> {self.work_dir} (seed {self.seed}); '
                  'nothing is run or written', flush=True)
        for spec in self.plan():
            self.run_stage(spec)
        if not self.dry_run:
            write_summary(self, self.records, time.time() - start)
        return self.records
