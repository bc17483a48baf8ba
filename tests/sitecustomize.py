"""Imported by Python at start-up when this folder is on PYTHONPATH (the reliability
tests put it there for their subprocesses): loads the fault injection when asked."""
import os

if any(key.startswith('FAULT_') for key in os.environ):
    import fault_injection  # noqa: F401
