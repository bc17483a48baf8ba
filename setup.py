"""Packaging for cpsl-mmseg (CPSL, CVPR 2022, as an MMSegmentation 1.x add-on)."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_version() -> str:
    text = (HERE / 'cpsl_mmseg' / 'version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


def read_requirements(name: str) -> list:
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


setup(
    name='cpsl-mmseg',
    version=read_version(),
    description='Class-balanced Pixel-level Self-Labeling (CPSL) for MMSegmentation 1.x',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['cpsl_mmseg', 'cpsl_mmseg.*']),
    python_requires='>=3.9',
    # torch is deliberately not listed: an unpinned torch requirement can resolve to a
    # multi-GB CUDA build; tools/setup.sh installs the pinned one (or keeps yours).
    install_requires=read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    license='Apache-2.0',
)
