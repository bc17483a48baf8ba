"""Writing config files that mmengine reads back: plain Python assignments of builtin
values (the pipeline's stage configs, the exported inference config)."""
import os
import pprint
from typing import Any, Mapping, Optional

from mmengine.config import ConfigDict


def plain(value: Any) -> Any:
    """``value`` with every ConfigDict turned into builtins (dicts and lists walked)."""
    if isinstance(value, ConfigDict):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def write_config(path: str, settings: Mapping[str, Any], header: str,
                 base: Optional[str] = None) -> str:
    """Write ``path``: ``header`` as comment lines, ``_base_ = [base]`` (absolute; none
    without ``base``) and one assignment per top-level key of ``settings``. Written
    atomically (a temporary file renamed into place); returns ``path``."""
    lines = [f'# {line}' if line else '#' for line in header.splitlines()]
    if base:
        lines.append(f'_base_ = [{os.path.abspath(base)!r}]')
    for key, value in settings.items():
        text = pprint.pformat(plain(value), indent=1, width=88, sort_dicts=False)
        lines.append(f'{key} = {text}')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.replace(tmp, path)
    return path
