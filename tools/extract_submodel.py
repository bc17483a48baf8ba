#!/usr/bin/env python
"""Extract one sub-model of a stage checkpoint as a plain segmentor checkpoint.

Runs ``cpsl_mmseg.tools.extract_submodel`` (its docstring has the command line); without a
checkout: ``python -m cpsl_mmseg.tools.extract_submodel ...``.
"""
from cpsl_mmseg.tools.extract_submodel import main

if __name__ == '__main__':
    main()
