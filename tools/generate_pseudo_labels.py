#!/usr/bin/env python
"""Write the soft pseudo labels P_ST of every target training image (Alg. 1, line 1).

Runs ``cpsl_mmseg.tools.generate_pseudo_labels`` (its docstring has the command line); without a
checkout: ``python -m cpsl_mmseg.tools.generate_pseudo_labels ...``.
"""
from cpsl_mmseg.tools.generate_pseudo_labels import main

if __name__ == '__main__':
    main()
