"""The ``train`` stage: ``cpsl_mmseg.tools.train`` on the stage's config file, then
optionally the trained segmentor extracted from its checkpoint and an evaluation."""
import os.path as osp
from typing import Dict, List

from mmengine.config import Config

from ...utils.class_balance_report import (class_balance_table, read_class_balance,
                                           summarize_class_balance)
from ..kinds import STAGE_KINDS, StageKind
from ..settings import loads_p_st, stage_settings

EXTRACT_TOOL = 'cpsl_mmseg.tools.extract_submodel'


@STAGE_KINDS.register_module(name='train')
class TrainStage(StageKind):
    """Trains the stage's config with its inputs (``network`` ->
    ``model.warmup_checkpoint``, ``teacher`` -> ``model.teacher_checkpoint``,
    ``pseudo_labels`` -> the P_ST directory, ``statistics`` -> the init file of
    ``OnlineClusteringHook``). ``extract``: the prefix under which the checkpoint keeps
    the trained segmentor (``'student.'`` for a UDA wrapper whose segmentor later
    stages start from)."""

    keys = dict(extract=None)
    checks_text = (
        'a target pipeline that loads P_ST (LoadSoftPseudoLabel) needs a pseudo_labels '
        'stage',
        'before any process starts: the stage config builds its model, and each file '
        'the model starts from (model.warmup_checkpoint / teacher_checkpoint / '
        'student_checkpoint) exists and fits by tensor name and shape',
        'before the first iteration (PreflightCheckHook): the head has the dataset\'s '
        'classes, no split is empty, a resumed checkpoint fits; while loading: label '
        'ids and sizes, P_ST classes and stride',
    )

    def run(self, pipe, spec) -> dict:
        base = pipe.base_config(spec)
        if loads_p_st(Config.fromfile(base)) and not spec.pseudo_labels:
            raise ValueError(f'{pipe.config}: stage {spec.name!r} trains {base}, whose '
                             'target pipeline loads P_ST, but names no pseudo_labels stage')
        config = pipe.checked_config(spec.name, base, stage_settings(pipe, spec, base))
        checkpoint = pipe.train(spec.name, config)
        segmentor = checkpoint
        if spec.settings['extract']:
            segmentor = osp.join(pipe.stage_dir(spec.name), 'segmentor.pth')
            pipe.run(spec.name, EXTRACT_TOOL, checkpoint, segmentor, '--prefix',
                     spec.settings['extract'])
        record = dict(config=config, checkpoint=checkpoint, segmentor=segmentor)
        if spec.evaluate:
            record.update(pipe.evaluate(spec.name, config, checkpoint))
        return record

    def summarize(self, pipe, records: Dict[str, dict], summary: dict,
                  lines: List[str]) -> None:
        """For every CPSL training stage: its class balance (the bank's share of each
        class over the prior's, the Sinkhorn assignments' precision; from the
        ``class_balance.json`` that ``OnlineClusteringHook`` wrote)."""
        for stage in records:
            if pipe.specs[stage].kind != 'train':
                continue
            reports = read_class_balance(pipe.train_dir(stage))
            if not reports:
                continue
            balance = summarize_class_balance(reports)
            summary['stages'][stage]['class_balance'] = balance
            lines += ['', f'## Class balance of `{stage}`', '']
            lines += class_balance_table(balance, pipe.specs[stage].title)
