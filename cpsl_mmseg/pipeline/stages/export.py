"""The ``export`` stage: the network that predicts of an earlier stage (``network``) as
a plain mmseg config and checkpoint (``cpsl_mmseg.tools.export_model``), optionally
evaluated (it scores what the exported stage's evaluation reported)."""
import os.path as osp
from typing import List

from mmengine.config import Config

from ...utils.model_export import predicting_network
from ..kinds import STAGE_KINDS, StageKind


def source_files(pipe, stage: str):
    """(config, checkpoint) of an earlier ``train`` or ``bn_calibration`` stage."""
    record = pipe.record(stage)
    return record['config'], record.get('checkpoint') or record['segmentor']


@STAGE_KINDS.register_module(name='export')
class ExportStage(StageKind):
    """``DIR/<stage>/model.py`` + ``model.pth`` of ``network``'s stage;
    ``predict_with``: ``'student'`` or ``'teacher'`` (default: that stage config's
    ``model.predict_with``, the network its evaluation measured)."""

    keys = dict(predict_with=None)
    checks_text = (
        'the checkpoint holds the chosen network (student. / teacher.) and it fits the '
        'exported config\'s model by tensor name and shape',
        'classes come from the checkpoint\'s meta.dataset_meta or the test set',
    )

    def inputs(self, pipe, spec) -> List[str]:
        return [source_files(pipe, spec.network)[1]]

    def run(self, pipe, spec) -> dict:
        config, checkpoint = source_files(pipe, spec.network)
        choice = spec.settings['predict_with']
        out = pipe.stage_dir(spec.name)
        pipe.run(spec.name, 'cpsl_mmseg.tools.export_model', config, checkpoint,
                 '--out-dir', out, *(['--network', choice] if choice else []))
        written = config if osp.isfile(config) else pipe.base_config(  # a dry run
            pipe.specs[spec.network])
        network = predicting_network(Config.fromfile(written), choice)[0]
        record = dict(config=osp.join(out, 'model.py'),
                      checkpoint=osp.join(out, 'model.pth'), network=network)
        if spec.evaluate:
            record.update(pipe.evaluate(spec.name, record['config'], record['checkpoint']))
        return record
