"""cpsl_lab: the offline benchmark lab of cpsl-mmseg, apart from the plug-in.

What proves that the plug-in (``cpsl_mmseg``) adapts, on any CPU and without
downloads: the procedural toy domains (:mod:`.toy_world`, registered as the mmseg
dataset ``ToyUDADataset``), the smoke shapes of the test suite, pseudo-label analysis
and figures, and the toy tree and analysis stages of the plug-in's pipeline
(:mod:`.pipeline_stages`, registered when a pipeline config lists it in
``uda_pipeline.imports``). The lab depends on the plug-in, never the reverse. Configs
load it with ``custom_imports = dict(imports=['cpsl_mmseg', 'cpsl_lab'])``; importing
it registers the toy dataset only (the other modules are imported on use).
"""
from .toy_dataset import ToyUDADataset

__all__ = ['ToyUDADataset']
