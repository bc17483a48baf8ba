#!/usr/bin/env python
"""Train a segmentor (plain mmseg or CPSL) with mmengine's Runner.

Runs ``cpsl_mmseg.tools.train`` (its docstring has the command line); without a
checkout: ``python -m cpsl_mmseg.tools.train ...``.
"""
from cpsl_mmseg.tools.train import main

if __name__ == '__main__':
    main()
