"""What each kind of stage does (:mod:`.spec`): the files it reads from earlier stages,
the tool it runs and the outputs it records.

Recorded outputs, by kind: ``train``: ``config``, ``checkpoint`` (the run's last) and
``segmentor`` (the trained segmentor alone: ``extract``ed from the checkpoint when the
model wraps it, else the checkpoint); ``bn_calibration``: ``segmentor``;
``pseudo_labels``: ``directory``; ``prototypes``: ``file``; evaluated stages: the
metrics (``mIoU``, ``per_class_iou``, ...).
"""
import json
import os.path as osp
from typing import List

from cpsl_mmseg.datasets.pseudo_label_dir import META_FILE as PROVENANCE
from cpsl_mmseg.datasets.pseudo_label_dir import read_provenance
from cpsl_mmseg.datasets.target_stream import loading_steps

from .spec import StageSpec
from .stage_config import deep_merge, plain

LAB_TOOLS = 'projects/cpsl_lab/tools'


def read_metrics(path: str) -> dict:
    """``tools/test.py --metrics-json`` output as a stage record's metrics."""
    with open(path) as f:
        metrics = json.load(f)
    per_class = {k[4:]: v for k, v in metrics.items() if k.startswith('IoU.')}
    summary = {k: v for k, v in metrics.items() if not k.startswith(('IoU.', 'Acc.'))}
    return dict(summary, per_class_iou=per_class)


def inputs(pipe, spec: StageSpec) -> List[str]:
    """The files a stage reads from earlier stages (their content decides whether a
    complete stage is still complete, :mod:`.records`)."""
    files = []
    if spec.network:
        files.append(pipe.output(spec.network, 'segmentor'))
    if spec.teacher:
        files.append(pipe.output(spec.teacher, 'checkpoint'))
    if spec.pseudo_labels:
        files.append(osp.join(pipe.output(spec.pseudo_labels, 'directory'), PROVENANCE))
    if spec.statistics:
        files.append(pipe.output(spec.statistics, 'file'))
    return files + [pipe.output(run, 'checkpoint') for run in spec.runs]


def outputs_valid(pipe, spec: StageSpec) -> bool:
    """False while a P_ST directory is being (re)written."""
    if spec.kind != 'pseudo_labels':
        return True
    return bool((read_provenance(pipe.stage_dir(spec.name)) or {}).get('complete'))


def run(pipe, spec: StageSpec) -> dict:
    """Run one stage; returns its record (outputs, metrics)."""
    return RUNNERS[spec.kind](pipe, spec)


def run_toy_data(pipe, spec: StageSpec) -> dict:
    from ..toy_world import validate_toy_tree
    if spec.prepare and not osp.isfile(osp.join(pipe.data_root, 'meta.json')):
        pipe.run(spec.name, spec.prepare, '--out', pipe.data_root)
    validate_toy_tree(pipe.data_root)
    return dict(data_root=pipe.data_root)


def run_train(pipe, spec: StageSpec) -> dict:
    base = pipe.base_config(spec)
    if pipe.loads_p_st(base) and not spec.pseudo_labels:
        raise ValueError(f'{pipe.config}: stage {spec.name!r} trains {base}, whose '
                         'target pipeline loads P_ST, but names no pseudo_labels stage')
    config = pipe.checked_config(spec.name, base, pipe.input_settings(spec, base))
    checkpoint = pipe.train(spec.name, config)
    segmentor = checkpoint
    if spec.extract:
        segmentor = osp.join(pipe.stage_dir(spec.name), 'segmentor.pth')
        pipe.run(spec.name, 'tools/extract_submodel.py', checkpoint, segmentor,
                 '--prefix', spec.extract)
    record = dict(config=config, checkpoint=checkpoint, segmentor=segmentor)
    if spec.evaluate:
        record.update(pipe.evaluate(spec.name, config, checkpoint))
    return record


def run_bn_calibration(pipe, spec: StageSpec) -> dict:
    """The network's BN statistics on the pipeline's target training images; the stage
    config is the segmentor config (``config``) plus those images."""
    base = pipe.base_config(spec)
    target = plain(pipe.cfg.train_dataloader.dataset.target)
    target['pipeline'] = loading_steps(target['pipeline'], with_soft_labels=False)
    if pipe.data_root:
        target['data_root'] = pipe.data_root
    config = pipe.stage_config(spec.name, base, deep_merge(
        pipe.data_settings(base), dict(target_train_dataset=target)))
    out = osp.join(pipe.stage_dir(spec.name), 'calibrated.pth')
    pipe.run(spec.name, f'{LAB_TOOLS}/calibrate_batch_norm.py', config,
             pipe.output(spec.network, 'segmentor'), '--out', out)
    record = dict(config=config, segmentor=out)
    if spec.evaluate:
        record.update(pipe.evaluate(spec.name, config, out))
    return record


def run_pseudo_labels(pipe, spec: StageSpec) -> dict:
    base = pipe.base_config(spec)
    config = pipe.stage_config(spec.name, base, pipe.data_settings(base))
    overwrite = ['--overwrite'] if spec.name in pipe.replacing else []
    pipe.run(spec.name, 'tools/generate_pseudo_labels.py', config,
             pipe.output(spec.network, 'segmentor'), '--out', pipe.stage_dir(spec.name),
             *overwrite, distributed=True)
    return dict(config=config, directory=pipe.stage_dir(spec.name))


def run_prototypes(pipe, spec: StageSpec) -> dict:
    base = pipe.base_config(spec)
    config = pipe.stage_config(spec.name, base, pipe.input_settings(spec, base))
    out = osp.join(pipe.stage_dir(spec.name), 'statistics.pth')
    pipe.run(spec.name, 'tools/compute_prototypes.py', config, '--out', out,
             distributed=True)
    return dict(config=config, file=out)


def run_analysis(pipe, spec: StageSpec) -> dict:
    stats = {}
    for stage in spec.runs:
        out = osp.join(pipe.stage_dir(spec.name), stage)
        pipe.run(spec.name, f'{LAB_TOOLS}/analyze_pseudo_labels.py',
                 pipe.output(stage, 'config'), pipe.output(stage, 'checkpoint'),
                 '--out-dir', out)
        with open(osp.join(out, 'pseudo_label_stats.json')) as f:
            stats[stage] = json.load(f)
    return dict(pseudo_labels=stats)


RUNNERS = dict(toy_data=run_toy_data, train=run_train, bn_calibration=run_bn_calibration,
               pseudo_labels=run_pseudo_labels, prototypes=run_prototypes,
               analysis=run_analysis)
