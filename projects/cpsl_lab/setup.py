"""Packaging of the cpsl-mmseg lab (``cpsl_lab``): the offline benchmark beside the
plug-in. Installed in editable mode from a checkout by ``tools/setup.sh``; it uses the
repository's ``tools/`` and ``configs/``, so it is not meant to be installed alone."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name='cpsl-lab',
    version='0.1.0',
    description='Offline benchmark lab of cpsl-mmseg: toy domains, pipeline, analysis',
    packages=find_packages(include=['cpsl_lab', 'cpsl_lab.*']),
    python_requires='>=3.9',
    install_requires=[
        line.strip() for line in (HERE / 'requirements.txt').read_text().splitlines()
        if line.strip() and not line.startswith('#')
    ],
    license='Apache-2.0',
)
