#!/usr/bin/env python
"""Compute the self-labeling head's initial prototypes (Eq. 7) and the class prior's

Runs ``cpsl_mmseg.tools.compute_prototypes`` (its docstring has the command line); without a
checkout: ``python -m cpsl_mmseg.tools.compute_prototypes ...``.
"""
from cpsl_mmseg.tools.compute_prototypes import main

if __name__ == '__main__':
    main()
