"""The plug-in stands alone: ``import cpsl_mmseg`` (and its pipeline runner) loads no
module of the lab (``cpsl_lab``: toy world, smoke data, analysis, the toy stage kinds)
and none of the lab's own dependencies; the lab, imported by its configs, registers
its dataset on top, and its stage kinds only when a pipeline config imports them."""
import json
import subprocess
import sys

LAB_ONLY = ('cpsl_lab', 'skimage', 'sklearn')


def imported_after(statement: str) -> list:
    code = (f'import sys; {statement}; import json; '
            'print(json.dumps(sorted(sys.modules)))')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300, check=True)
    return json.loads(proc.stdout.splitlines()[-1])


def test_import_cpsl_mmseg_loads_no_lab_module():
    modules = imported_after('import cpsl_mmseg')
    assert 'cpsl_mmseg.models.segmentors.cpsl' in modules  # the check sees modules
    leaked = [m for m in modules if m.split('.')[0] in LAB_ONLY]
    assert leaked == []
    assert 'cpsl_mmseg.pipeline' not in modules  # a tool, not a component


def test_the_pipeline_runner_and_its_stage_kinds_load_no_lab_module():
    modules = imported_after('import cpsl_mmseg.pipeline, cpsl_mmseg.tools.run_pipeline')
    assert 'cpsl_mmseg.pipeline.stages.export' in modules
    assert [m for m in modules if m.split('.')[0] in LAB_ONLY] == []


def test_the_lab_registers_its_dataset_through_custom_imports():
    from mmengine.config import Config
    from mmseg.registry import DATASETS

    cfg = Config.fromfile('projects/cpsl_lab/configs/toy/'
                          'cpsl_deeplabv3plus_r18-tiny_toy-128x64.py')
    assert cfg.custom_imports['imports'] == ['cpsl_mmseg', 'cpsl_lab']
    assert DATASETS.get('ToyUDADataset') is not None
    modules = imported_after('import cpsl_lab')
    assert 'cpsl_lab.toy_dataset' in modules
    assert 'cpsl_lab.pipeline_stages' not in modules and 'matplotlib.figure' not in modules
