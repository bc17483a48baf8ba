# The plug-in's runtime defaults, plus the lab's own components (ToyUDADataset).
_base_ = ['../../../../configs/_base_/default_runtime.py']
custom_imports = dict(imports=['cpsl_mmseg', 'cpsl_lab'], allow_failed_imports=False)
