#!/usr/bin/env python
"""Evaluate a checkpoint with mmengine's Runner (prints the per-class IoU table).

Runs ``cpsl_mmseg.tools.test`` (its docstring has the command line); without a
checkout: ``python -m cpsl_mmseg.tools.test ...``.
"""
from cpsl_mmseg.tools.test import main

if __name__ == '__main__':
    main()
