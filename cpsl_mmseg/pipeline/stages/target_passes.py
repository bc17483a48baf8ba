"""The stages that run a network over the target training images once, whole and
without augmentation: ``bn_calibration`` (target BN statistics), ``pseudo_labels``
(P_ST) and ``prototypes`` (Eq. 7 prototypes, Eq. 10 class counts)."""
import os.path as osp

from ...datasets.pseudo_label_dir import read_provenance
from ...datasets.target_stream import loading_steps
from ...utils.offline_inference import target_dataset_cfg
from ..kinds import STAGE_KINDS, StageKind
from ..settings import stage_settings
from ..stage_config import plain

LOADS_STRICTLY = ('the network file loads strictly into the config\'s segmentor (every '
                  'tensor name and shape)')


@STAGE_KINDS.register_module(name='bn_calibration')
class BatchNormCalibrationStage(StageKind):
    """The BN statistics of ``network``'s segmentor re-estimated on the pipeline
    config's target training images; the stage config is the stage's segmentor
    ``config`` plus those images (``target_train_dataset``)."""

    checks_text = (LOADS_STRICTLY, 'the target training set is not empty')

    def run(self, pipe, spec) -> dict:
        base = pipe.base_config(spec)
        target = plain(target_dataset_cfg(pipe.cfg))
        target['pipeline'] = loading_steps(target['pipeline'], with_soft_labels=False)
        if pipe.data_root:
            target['data_root'] = pipe.data_root
        config = pipe.stage_config(spec.name, base, stage_settings(
            pipe, spec, base, inputs=False, extra=dict(target_train_dataset=target)))
        out = osp.join(pipe.stage_dir(spec.name), 'calibrated.pth')
        pipe.run(spec.name, 'cpsl_mmseg.tools.calibrate_batch_norm', config,
                 pipe.output(spec.network, 'segmentor'), '--out', out)
        record = dict(config=config, segmentor=out)
        if spec.evaluate:
            record.update(pipe.evaluate(spec.name, config, out))
        return record


@STAGE_KINDS.register_module(name='pseudo_labels')
class PseudoLabelStage(StageKind):
    """P_ST of every target training image by ``network`` (sharded over the
    processes), into ``DIR/<stage>``."""

    checks_text = (LOADS_STRICTLY, 'maps of another checkpoint in the directory are '
                   'replaced only when the stage runs again (--overwrite); maps that '
                   'exist and read back are kept (resumable)')

    def outputs_valid(self, pipe, spec) -> bool:
        """False while the P_ST directory is being (re)written."""
        return bool((read_provenance(pipe.stage_dir(spec.name)) or {}).get('complete'))

    def run(self, pipe, spec) -> dict:
        base = pipe.base_config(spec)
        config = pipe.stage_config(spec.name, base,
                                   stage_settings(pipe, spec, base, inputs=False))
        overwrite = ['--overwrite'] if spec.name in pipe.replacing else []
        pipe.run(spec.name, 'cpsl_mmseg.tools.generate_pseudo_labels', config,
                 pipe.output(spec.network, 'segmentor'), '--out', pipe.stage_dir(spec.name),
                 *overwrite, distributed=True)
        return dict(config=config, directory=pipe.stage_dir(spec.name))


@STAGE_KINDS.register_module(name='prototypes')
class PrototypeStage(StageKind):
    """Eq. 7 prototypes and Eq. 10 class counts of the CPSL ``config`` (teacher =
    ``network``, labels = argmax of the ``pseudo_labels`` stage's P_ST), into
    ``DIR/<stage>/statistics.pth``."""

    checks_text = ('the config\'s model is CPSL and its files load strictly',
                   'every target image has a P_ST map of the right classes and stride')

    def run(self, pipe, spec) -> dict:
        base = pipe.base_config(spec)
        config = pipe.stage_config(spec.name, base, stage_settings(pipe, spec, base))
        out = osp.join(pipe.stage_dir(spec.name), 'statistics.pth')
        pipe.run(spec.name, 'cpsl_mmseg.tools.compute_prototypes', config, '--out', out,
                 distributed=True)
        return dict(config=config, file=out)
