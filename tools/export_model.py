#!/usr/bin/env python
"""Export the network that predicts as a plain mmseg config and checkpoint.

Runs ``cpsl_mmseg.tools.export_model`` (its docstring has the command line); without a
checkout: ``python -m cpsl_mmseg.tools.export_model ...``.
"""
from cpsl_mmseg.tools.export_model import main

if __name__ == '__main__':
    main()
