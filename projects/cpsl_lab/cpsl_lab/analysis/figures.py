"""Figures of a CPSL run: class distributions (paper Fig. 6), training curves,
per-class IoU and qualitative rows.

Every function draws on a standalone ``matplotlib.figure.Figure`` with the Agg
canvas (no pyplot, no global backend switch), so it works headless and inside any
process, and writes one PNG.
"""
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PathLike = Union[str, Path]
IGNORE_COLOR = (255, 255, 255)


def _save(fig: Figure, path: PathLike, **kwargs) -> None:
    """Write ``fig`` as PNG, creating the parent directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(str(path), format='png', **kwargs)


def read_scalars(work_dir: PathLike) -> List[dict]:
    """Records of the newest ``*/vis_data/scalars.json`` under an mmengine work dir.

    mmengine names each run's folder by its start time (``YYYYMMDD_HHMMSS``), so the
    last one in name order is the newest run.

    Raises:
        FileNotFoundError: naming ``work_dir`` when it holds no scalars.json.
        ValueError: naming the file and line of a malformed record.
    """
    files = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    if not files:
        raise FileNotFoundError(
            f'no */vis_data/scalars.json under {work_dir}: not an mmengine work '
            'dir, or the run logged nothing')
    records = []
    for number, line in enumerate(files[-1].read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as err:
            raise ValueError(f'{files[-1]}:{number}: not a JSON record: {err}'
                             ) from None
    return records


def plot_class_distributions(classes: Sequence[str],
                             distributions: Dict[str, Sequence[float]],
                             path: PathLike,
                             title: str = 'Class distribution') -> None:
    """Grouped bars of per-class pixel shares (paper Fig. 6), log y-axis.

    Args:
        classes: C class names (x-axis, in this order).
        distributions: legend label -> C shares (e.g. ``ground truth``,
            ``self-training``, ``CPSL``); zero shares are drawn at the axis floor.
        path: PNG to write.
        title: figure title.
    """
    if not distributions:
        raise ValueError('plot_class_distributions: no distributions given')
    for name, values in distributions.items():
        if len(values) != len(classes):
            raise ValueError(f'plot_class_distributions: {name!r} has '
                             f'{len(values)} values for {len(classes)} classes')
    positive = [v for vals in distributions.values() for v in vals if v > 0]
    floor = min(positive) / 2 if positive else 1e-6
    fig = Figure(figsize=(max(6.0, 0.6 * len(classes) + 2), 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    width = 0.8 / len(distributions)
    for k, (name, values) in enumerate(distributions.items()):
        heights = np.maximum(np.asarray(values, dtype=float), floor)
        ax.bar(x + (k - (len(distributions) - 1) / 2) * width, heights,
               width, label=name)
    ax.set_yscale('log')
    ax.set_ylim(bottom=floor)
    ax.set_ylabel('pixel share')
    ax.set_xticks(x)
    ax.set_xticklabels(classes, rotation=45, ha='right', fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path, dpi=120)


def plot_per_class_iou(classes: Sequence[str],
                       results: Dict[str, Dict[str, Optional[float]]],
                       path: PathLike, title: str = 'Per-class IoU') -> None:
    """Grouped bars of per-class IoU (%) for several models or stages.

    Args:
        classes: class names (x-axis order).
        results: legend label -> {class name: IoU in % (None / missing = no bar)}.
        path: PNG to write.
    """
    if not results:
        raise ValueError('plot_per_class_iou: no results given')
    fig = Figure(figsize=(max(6.0, 0.6 * len(classes) + 2), 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    width = 0.8 / len(results)
    for k, (name, ious) in enumerate(results.items()):
        heights = [ious.get(c) for c in classes]
        heights = [np.nan if h is None else float(h) for h in heights]
        ax.bar(x + (k - (len(results) - 1) / 2) * width, heights, width,
               label=name)
    ax.set_ylim(0, 100)
    ax.set_ylabel('IoU (%)')
    ax.set_xticks(x)
    ax.set_xticklabels(classes, rotation=45, ha='right', fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path, dpi=120)


def _xy(records: Sequence[dict], key: str, x_keys: Sequence[str]):
    points = [(next(r[k] for k in x_keys if k in r), r[key]) for r in records
              if key in r and any(k in r for k in x_keys)]
    return [p[0] for p in points], [p[1] for p in points]


def plot_training_curves(curves: Dict[str, List[dict]], path: PathLike,
                         metric: str = 'mIoU') -> None:
    """Total ``loss`` against the iteration and, when logged, the target ``metric``
    at validation steps, one line per stage.

    Args:
        curves: stage name -> mmengine scalar records (see :func:`read_scalars`):
            training records carry ``loss`` and ``iter``/``step``, validation
            records carry ``metric`` and ``step``.
        path: PNG to write (one panel, or two when any stage has ``metric``).

    Raises:
        ValueError: when no stage has a single ``loss`` record.
    """
    losses = {name: _xy(recs, 'loss', ('iter', 'step'))
              for name, recs in curves.items()}
    losses = {name: xy for name, xy in losses.items() if xy[0]}
    if not losses:
        raise ValueError('plot_training_curves: no stage of '
                         f'{sorted(curves)} has a logged "loss"')
    metrics = {name: _xy(recs, metric, ('step', 'iter'))
               for name, recs in curves.items()}
    metrics = {name: xy for name, xy in metrics.items() if xy[0]}
    panels = 2 if metrics else 1
    fig = Figure(figsize=(4.5 * panels, 3.4))
    ax = fig.add_subplot(1, panels, 1)
    for name, (x, y) in losses.items():
        ax.plot(x, y, label=name, linewidth=1)
    ax.set_xlabel('iteration')
    ax.set_ylabel('total loss')
    ax.set_title('Training loss', fontsize=10)
    ax.legend(fontsize=8)
    if metrics:
        ax = fig.add_subplot(1, panels, 2)
        for name, (x, y) in metrics.items():
            ax.plot(x, y, marker='o', markersize=3, label=name, linewidth=1)
        ax.set_xlabel('iteration')
        ax.set_ylabel(f'target {metric}')
        ax.set_title(f'Target {metric} (validation)', fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path, dpi=120)


def colorize(label: np.ndarray, palette: Sequence[Sequence[int]],
             ignore_index: int = 255,
             ignore_color: Sequence[int] = IGNORE_COLOR) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) uint8 RGB; ``ignore_index`` and ids without a
    palette entry get ``ignore_color``."""
    lut = np.tile(np.asarray(ignore_color, dtype=np.uint8), (256, 1))
    colors = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)[:256]
    lut[:len(colors)] = colors
    if 0 <= ignore_index < 256:
        lut[ignore_index] = ignore_color
    ids = np.asarray(label).astype(np.int64)
    ids = np.where((ids >= 0) & (ids < 256), ids, ignore_index % 256)
    return lut[ids]


# Qualitative layout, in inches.
PANEL_WIDTH = 2.0
PANEL_GAP = 0.05
TITLE_BAND = 0.3
ROW_LABEL_BAND = 0.25
QUALITATIVE_DPI = 100


def plot_qualitative(rows: Sequence[Sequence[np.ndarray]],
                     column_titles: Sequence[str], path: PathLike,
                     row_titles: Optional[Sequence[str]] = None) -> None:
    """A grid of RGB panels: one row per image, one column per map.

    Each panel is :data:`PANEL_WIDTH` inches wide and keeps its row's aspect ratio
    (that of the row's first panel); column titles sit in a band on top and row
    titles (e.g. file names) on the left. The PNG is exactly
    ``(ROW_LABEL_BAND + n_cols * PANEL_WIDTH + n_cols * PANEL_GAP) * dpi`` wide.

    Args:
        rows: per row, ``len(column_titles)`` arrays of (H, W, 3) uint8 RGB.
        column_titles: one short title per column.
        path: PNG to write.
        row_titles: optional per-row labels.
    """
    if not rows:
        raise ValueError('plot_qualitative: no rows given')
    num_cols = len(column_titles)
    heights = []
    for r, row in enumerate(rows):
        if len(row) != num_cols:
            raise ValueError(f'plot_qualitative: row {r} has {len(row)} panels '
                             f'for {num_cols} columns')
        height, width = row[0].shape[:2]
        heights.append(PANEL_WIDTH * height / width)
    fig_w = ROW_LABEL_BAND + num_cols * (PANEL_WIDTH + PANEL_GAP)
    fig_h = TITLE_BAND + sum(heights) + len(rows) * PANEL_GAP
    fig = Figure(figsize=(fig_w, fig_h))
    top = fig_h - TITLE_BAND
    for r, (row, row_h) in enumerate(zip(rows, heights)):
        bottom = top - row_h
        for c, panel in enumerate(row):
            left = ROW_LABEL_BAND + c * (PANEL_WIDTH + PANEL_GAP)
            ax = fig.add_axes((left / fig_w, bottom / fig_h,
                               PANEL_WIDTH / fig_w, row_h / fig_h))
            ax.imshow(panel, interpolation='nearest', aspect='auto')
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(column_titles[c], fontsize=8)
            if c == 0 and row_titles is not None:
                ax.set_ylabel(row_titles[r], fontsize=6)
        top = bottom - PANEL_GAP
    _save(fig, path, dpi=QUALITATIVE_DPI)
