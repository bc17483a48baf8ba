"""The command lines of cpsl-mmseg, importable so that a pip-installed package runs
them without a checkout: ``python -m cpsl_mmseg.tools.NAME ...`` (``torchrun ... -m
cpsl_mmseg.tools.NAME`` and ``srun python -m ...`` for several processes).

The repository's ``tools/NAME.py`` are mmseg-style scripts that call the same
``main``: ``python tools/train.py CONFIG`` works as in mmseg. Each module has a
``main(argv=None)``.

========================  =====================================================
module                    what it does
========================  =====================================================
``train``                 train any config (mmseg's command line)
``test``                  evaluate a checkpoint (``--metrics-json``)
``calibrate_batch_norm``  target BN statistics of a warm-up network
``generate_pseudo_labels`` P_ST of every target training image
``compute_prototypes``    Eq. 7 prototypes and Eq. 10 class counts
``extract_submodel``      one sub-model of a checkpoint (``--prefix student.``)
``export_model``          the predicting network as a plain mmseg config + checkpoint
``run_pipeline``          every stage of a pipeline config, resumable
========================  =====================================================
"""
