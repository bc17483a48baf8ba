"""The lab's stage kinds, registered in the plug-in's pipeline (``cpsl_mmseg.pipeline``)
when a pipeline config imports this module (``uda_pipeline.imports``):

* ``toy_data``: generates the toy tree when it is missing (the lab's
  ``tools/prepare_toy_data.py``) and validates it; records ``data_root``.
* ``analysis``: pseudo-label quality of the training stages named in ``runs``
  (``tools/analyze_pseudo_labels.py``); adds the pseudo-label table and the figures
  (``class_distribution.png``, the paper's Fig. 6; ``training_curves.png``) to the
  pipeline's summary.
"""
import json
import os.path as osp
from pathlib import Path
from typing import Dict, List

from cpsl_mmseg.pipeline.kinds import STAGE_KINDS, StageKind

LAB_TOOLS = Path(__file__).resolve().parents[1] / 'tools'


@STAGE_KINDS.register_module(name='toy_data')
class ToyDataStage(StageKind):
    """The toy tree at ``--data-root`` (else the pipeline config's ``data_root``),
    generated when its ``meta.json`` is missing (``prepare=False``: never)."""

    keys = dict(prepare=True)
    checks_text = ('the tree is complete and of this generator version (meta.json), '
                   'every image has its label, label ids and sizes fit',)

    def run(self, pipe, spec) -> dict:
        from .toy_world import validate_toy_tree
        data_root = pipe.data_root or osp.abspath(pipe.cfg.data_root)
        if spec.settings['prepare'] and not osp.isfile(osp.join(data_root, 'meta.json')):
            pipe.run(spec.name, str(LAB_TOOLS / 'prepare_toy_data.py'), '--out', data_root)
        if not pipe.dry_run:
            validate_toy_tree(data_root)
        return dict(data_root=data_root)


@STAGE_KINDS.register_module(name='analysis')
class AnalysisStage(StageKind):
    """Pseudo labels of each training stage of ``runs`` against the target ground
    truth (class shares, KL, IoU), in ``DIR/<stage>/<run>/``."""

    keys = dict(runs=())
    references = dict(runs=('train', ))
    checks_text = ('each run\'s checkpoint loads strictly into its config\'s model',)

    def inputs(self, pipe, spec) -> List[str]:
        return super().inputs(pipe, spec) + [
            pipe.output(run, 'checkpoint') for run in spec.settings['runs']]

    def run(self, pipe, spec) -> dict:
        stats = {}
        for stage in spec.settings['runs']:
            out = osp.join(pipe.stage_dir(spec.name), stage)
            pipe.run(spec.name, str(LAB_TOOLS / 'analyze_pseudo_labels.py'),
                     pipe.output(stage, 'config'), pipe.output(stage, 'checkpoint'),
                     '--out-dir', out)
            if not pipe.dry_run:
                with open(osp.join(out, 'pseudo_label_stats.json')) as f:
                    stats[stage] = json.load(f)
        return dict(pseudo_labels=stats)

    def summarize(self, pipe, records: Dict[str, dict], summary: dict,
                  lines: List[str]) -> None:
        from cpsl_mmseg.pipeline.summary import stage_label

        from .analysis.figures import (plot_class_distributions, plot_training_curves,
                                       read_scalars)
        analyses = [s for s in records if pipe.specs[s].kind == 'analysis']
        analysis = records[analyses[0]]['pseudo_labels']
        summary['pseudo_labels'] = {
            s: dict(kl_gt_to_pseudo=stats['kl_gt_to_pseudo'],
                    pseudo_label_miou=stats['pseudo_label']['mIoU'],
                    p_st_argmax_miou=stats['p_st_argmax']['mIoU'],
                    pseudo_distribution=stats['pseudo_distribution'],
                    gt_distribution=stats['gt_distribution'])
            for s, stats in analysis.items()}
        if not analysis:
            return
        lines += ['', '| pseudo labels | KL(GT \\|\\| pseudo) | pseudo-label mIoU |',
                  '|---|---|---|']
        lines += [f"| {stage_label(pipe, s)} | {stats['kl_gt_to_pseudo']:.4f} | "
                  f"{stats['pseudo_label']['mIoU']:.1f} |" for s, stats in analysis.items()]
        last = list(analysis)[-1]
        lines += ['', '![class distribution](class_distribution.png)',
                  '![training curves](training_curves.png)',
                  f'![qualitative]({analyses[0]}/{last}/qualitative.png)']
        evaluated = [s for s in records if 'mIoU' in records[s]]
        distributions = {'ground truth': analysis[last]['gt_distribution']}
        distributions.update({stage_label(pipe, s): stats['pseudo_distribution']
                              for s, stats in analysis.items()})
        plot_class_distributions(
            list(records[evaluated[0]]['per_class_iou']), distributions,
            osp.join(pipe.work_dir, 'class_distribution.png'),
            'Pseudo-label class distribution on the target train set')
        plot_training_curves(
            {stage_label(pipe, s): read_scalars(pipe.train_dir(s))
             for s in evaluated if pipe.specs[s].kind == 'train'},
            osp.join(pipe.work_dir, 'training_curves.png'))
