"""``--dry-run``: what each stage would write, run, read and check, printed; nothing is
run or written.

The stage kinds run their usual code with ``pipe.dry_run`` set: the pipeline then
collects, instead of doing them, the stage config it would write (over which config,
setting which keys), every command line, and the outputs later stages would read (the
paths the stage would record; a training stage's last checkpoint is
``iter_<max_iters>.pth``). Complete stages whose inputs are unchanged would be
skipped; their recorded outputs are what later stages read.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from mmengine.config import Config

INDENT = '    '


@dataclass
class StageReport:
    """What running one stage would do."""

    spec: object
    checks: List[str]
    commands: List[str] = field(default_factory=list)
    configs: List[Tuple[str, str, List[str]]] = field(default_factory=list)
    inputs: List[str] = field(default_factory=list)
    merged: Optional[Config] = None  # the stage config it would write, merged

    def print(self, pipe, record: dict) -> None:
        spec = self.spec
        again = ' again over its complete run' if spec.name in pipe.replacing else ''
        lines = [f'[dry-run] {spec.name} ({spec.kind}, "{spec.title}"): would run{again}']
        for path, base, keys in self.configs:
            lines.append(f'{INDENT}config   {path}: _base_ {base}, sets {", ".join(keys)}')
        lines += [f'{INDENT}run      {command}' for command in self.commands]
        lines += [f'{INDENT}reads    {path}' for path in self.inputs] or [
            f'{INDENT}reads    nothing from earlier stages']
        lines += [f'{INDENT}writes   {key}: {value}' for key, value in record.items()
                  if isinstance(value, str)]
        lines += [f'{INDENT}checks   {check}' for check in self.checks]
        print('\n'.join(lines), flush=True)


def print_skipped(spec, record: dict) -> None:
    """A complete stage a run would skip, with the outputs later stages read."""
    outputs = ', '.join(f'{key}: {value}' for key, value in record.items()
                        if key in ('config', 'checkpoint', 'segmentor', 'directory', 'file',
                                   'data_root') and isinstance(value, str))
    print(f'[dry-run] {spec.name} ({spec.kind}): complete, would be skipped'
          + (f'\n{INDENT}outputs  {outputs}' if outputs else ''), flush=True)
