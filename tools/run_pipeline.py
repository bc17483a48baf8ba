#!/usr/bin/env python
"""Run every stage of a pipeline config in one command, resumable.

Runs ``cpsl_mmseg.tools.run_pipeline`` (its docstring has the command line); without a
checkout: ``python -m cpsl_mmseg.tools.run_pipeline ...``.
"""
from cpsl_mmseg.tools.run_pipeline import main

if __name__ == '__main__':
    main()
