#!/usr/bin/env python
"""Re-estimate a warm-up checkpoint's BN statistics on the target training images.

Runs ``cpsl_mmseg.tools.calibrate_batch_norm`` (its docstring has the command line); without a
checkout: ``python -m cpsl_mmseg.tools.calibrate_batch_norm ...``.
"""
from cpsl_mmseg.tools.calibrate_batch_norm import main

if __name__ == '__main__':
    main()
