"""Resumable, parallel conversion of source-domain labels to train-id PNGs.

The machinery shared by ``tools/convert_datasets/gta5.py`` and ``synthia.py``; each
tool only finds its (image, label) pairs and reads one label file as an (H, W) uint8
array of train ids (0..C-1, 255 = ignore). For every pair this module

- skips the pair when its output already exists and is valid (resume),
- otherwise decodes the image fully and reads the label; a pair whose image or label
  cannot be read is skipped and listed in the report instead of stopping the run,
- resizes a label whose size differs from its image's (nearest neighbour) and lists it,
- writes the output PNG through a temporary file and ``os.replace``, so an interrupted
  run never leaves a half-written label behind,

and afterwards writes, in the dataset root, the split file of every usable image
(``train.txt``), per-class pixel statistics (``class_stats.json``) and the report
(``conversion_report.json``).
"""
import io
import json
import os
import struct
import tempfile
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.utils import track_parallel_progress, track_progress
from PIL import Image

from .class_stats import STATS_FILE, statistics_from_counts

IGNORE_INDEX = 255
OUTPUT_SUFFIX = '_labelTrainIds.png'
SPLIT_FILE = 'train.txt'
REPORT_FILE = 'conversion_report.json'
PARTIAL_SUFFIX = '.partial'

#: Reads one label file and returns its train ids as an (H, W) uint8 array.
ReadTrainIds = Callable[[str], np.ndarray]
Size = Tuple[int, int]  # (width, height), as PIL reports it


@dataclass(frozen=True)
class LabelPair:
    """One image, its label file and the train-id PNG to write for it."""
    stem: str
    image_path: str
    label_path: str
    output_path: str


@dataclass
class PairResult:
    """What converting one :class:`LabelPair` did.

    ``status`` is ``'converted'`` (output written), ``'reused'`` (a valid output was
    already there) or ``'skipped'`` (``bad_file`` could not be read, see ``reason``).
    ``class_counts`` holds the output's pixels per train id 0..C-1.
    """
    stem: str
    status: str
    class_counts: List[int] = field(default_factory=list)
    ignore_count: int = 0
    image_size: Optional[Size] = None
    label_size: Optional[Size] = None
    bad_file: Optional[str] = None
    reason: Optional[str] = None

    @property
    def resized(self) -> bool:
        """Whether the label's size differed from the image's."""
        return None not in (self.image_size, self.label_size) \
            and self.image_size != self.label_size


def train_id_lut(source_ids: Sequence[int], size: int) -> np.ndarray:
    """Lookup table of ``size`` entries: ``source_ids[k] -> k``, everything else 255.

    Args:
        source_ids: Dataset label id of each train id 0..C-1, in train-id order.
        size: Number of possible source values (256 for 8-bit, 65536 for 16-bit).

    Returns:
        np.ndarray: (size,) uint8 array; ``lut[label]`` converts a label map.
    """
    lut = np.full(size, IGNORE_INDEX, dtype=np.uint8)
    lut[np.asarray(source_ids)] = np.arange(len(source_ids), dtype=np.uint8)
    return lut


def png_size(path: str) -> Size:
    """(width, height) of a PNG from its IHDR chunk, without decoding the pixels.

    Works for any bit depth and channel count (PIL cannot open every 16-bit PNG).
    """
    with open(path, 'rb') as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b'\x89PNG\r\n\x1a\n' or head[12:16] != b'IHDR':
        raise ValueError(f'{path} is not a PNG file')
    width, height = struct.unpack('>II', head[16:24])
    return width, height


def decoded_image_size(path: str) -> Size:
    """Decode the whole image (so truncated or corrupt files raise) and return its size."""
    with Image.open(path) as img:
        img.load()
        return img.size


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and
    ``os.replace``, so ``path`` is either absent, the old file or the complete new one."""
    folder, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{name}.', suffix=PARTIAL_SUFFIX)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def encode_png(train_ids: np.ndarray) -> bytes:
    """Encode an (H, W) uint8 train-id map as a single-channel 8-bit PNG."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(train_ids, dtype=np.uint8)).save(buffer, 'PNG')
    return buffer.getvalue()


def _histogram(train_ids: np.ndarray) -> np.ndarray:
    """(256,) pixel count of every value of an (H, W) uint8 map."""
    return np.bincount(train_ids.ravel(), minlength=256)


def _valid_output_histogram(path: str, size: Size, num_classes: int) -> Optional[np.ndarray]:
    """Histogram of an existing output when it is a complete single-channel PNG of
    ``size`` holding only train ids 0..C-1 and 255; None otherwise (missing or bad)."""
    if not os.path.exists(path):
        return None
    try:
        with Image.open(path) as img:
            if img.format != 'PNG' or img.mode != 'L' or img.size != size:
                return None
            hist = _histogram(np.asarray(img))
    except Exception:  # noqa: BLE001 (an unreadable output is simply rewritten)
        return None
    return None if hist[num_classes:IGNORE_INDEX].any() else hist


def _result(pair: LabelPair, status: str, hist: np.ndarray, num_classes: int,
            image_size: Size, label_size: Optional[Size]) -> PairResult:
    return PairResult(
        stem=pair.stem, status=status,
        class_counts=[int(n) for n in hist[:num_classes]],
        ignore_count=int(hist[IGNORE_INDEX]),
        image_size=image_size, label_size=label_size)


def _skipped(pair: LabelPair, bad_file: str, error: Exception) -> PairResult:
    return PairResult(stem=pair.stem, status='skipped', bad_file=bad_file,
                      reason=f'{type(error).__name__}: {error}')


def convert_pair(pair: LabelPair, read_train_ids: ReadTrainIds,
                 num_classes: int) -> PairResult:
    """Convert one pair (or reuse its valid output); never raises for bad inputs.

    Args:
        pair: The files involved.
        read_train_ids: Reads ``pair.label_path`` as an (H, W) uint8 train-id map.
        num_classes: C; valid outputs hold only 0..C-1 and 255.

    Returns:
        PairResult: Status, the output's per-class pixel counts and both sizes.
    """
    try:
        image_size = png_size(pair.image_path)
    except Exception as error:  # noqa: BLE001 (any unreadable input is reported)
        return _skipped(pair, pair.image_path, error)
    hist = _valid_output_histogram(pair.output_path, image_size, num_classes)
    if hist is not None:
        try:
            label_size: Optional[Size] = png_size(pair.label_path)
        except Exception:  # noqa: BLE001 (only needed to report a resize)
            label_size = None
        return _result(pair, 'reused', hist, num_classes, image_size, label_size)
    try:
        image_size = decoded_image_size(pair.image_path)
    except Exception as error:  # noqa: BLE001
        return _skipped(pair, pair.image_path, error)
    try:
        train_ids = read_train_ids(pair.label_path)
    except Exception as error:  # noqa: BLE001
        return _skipped(pair, pair.label_path, error)
    label_size = (train_ids.shape[1], train_ids.shape[0])
    if label_size != image_size:
        train_ids = np.asarray(Image.fromarray(train_ids).resize(
            image_size, Image.Resampling.NEAREST))
    write_atomic(pair.output_path, encode_png(train_ids))
    return _result(pair, 'converted', _histogram(train_ids), num_classes,
                   image_size, label_size)


def find_pairs(root: str, image_dir: str, label_dir: str,
               suffix: str = '.png') -> List[LabelPair]:
    """Pair every ``root/image_dir/<stem><suffix>`` with ``root/label_dir/<stem><suffix>``
    (the label may be missing; that pair is then reported as skipped) and the output
    ``root/label_dir/<stem>_labelTrainIds.png``, sorted by stem."""
    images = os.path.join(root, image_dir)
    if not os.path.isdir(images):
        raise FileNotFoundError(f'image folder {images} not found: is {root} the dataset root?')
    labels = os.path.join(root, label_dir)
    stems = sorted(name[:-len(suffix)] for name in os.listdir(images)
                   if name.endswith(suffix) and not name.startswith('.'))
    return [LabelPair(stem, os.path.join(images, stem + suffix),
                      os.path.join(labels, stem + suffix),
                      os.path.join(labels, stem + OUTPUT_SUFFIX)) for stem in stems]


def remove_partial_files(folder: str) -> int:
    """Delete temporary files that an interrupted run left in ``folder``; their count."""
    if not os.path.isdir(folder):
        return 0
    stale = [name for name in os.listdir(folder)
             if name.startswith('.') and name.endswith(PARTIAL_SUFFIX)]
    for name in stale:
        os.unlink(os.path.join(folder, name))
    return len(stale)


def class_statistics(results: Sequence[PairResult], classes: Sequence[str]) -> dict:
    """Pixel statistics of the usable images, for rare class sampling: the
    ``class_stats.json`` content of :func:`.class_stats.statistics_from_counts`, keyed
    by stem (``pixel_counts``, ``image_counts``, ``pixel_share`` per class;
    ``images``: stem -> {train id as str: pixels} for the classes present)."""
    usable = [r for r in results if r.status != 'skipped']
    return statistics_from_counts([r.stem for r in usable],
                                  [r.class_counts for r in usable],
                                  [r.ignore_count for r in usable], classes)


def conversion_report(dataset: str, root: str, results: Sequence[PairResult],
                      partial_files_removed: int) -> dict:
    """Summary of a run: counts per status, the skipped pairs and the resized labels."""
    status = [r.status for r in results]
    return dict(
        dataset=dataset,
        root=os.path.abspath(root),
        num_pairs=len(results),
        converted=status.count('converted'),
        reused=status.count('reused'),
        partial_files_removed=partial_files_removed,
        skipped=[dict(stem=r.stem, file=r.bad_file, reason=r.reason)
                 for r in results if r.status == 'skipped'],
        resized=[dict(stem=r.stem, image_size=list(r.image_size),
                      label_size=list(r.label_size))
                 for r in results if r.resized])


def _write_json(path: str, obj: dict) -> None:
    write_atomic(path, (json.dumps(obj, indent=1) + '\n').encode())


def run_conversion(dataset: str, root: str, pairs: Sequence[LabelPair],
                   read_train_ids: ReadTrainIds, classes: Sequence[str],
                   nproc: int = 1) -> dict:
    """Convert every pair with a progress bar, then write split, statistics and report.

    Args:
        dataset: Name used in the report.
        root: Dataset root; ``train.txt``, ``class_stats.json`` and
            ``conversion_report.json`` are written there.
        pairs: From :func:`find_pairs`.
        read_train_ids: Label reader; must be a module-level function when
            ``nproc > 1`` (it is sent to the worker processes).
        classes: Class names in train-id order.
        nproc: Worker processes; 1 converts in this process.

    Returns:
        dict: The report (also written to ``root/conversion_report.json``).
    """
    if nproc < 1:
        raise ValueError(f'--nproc must be at least 1, got {nproc}')
    removed = sum(remove_partial_files(folder)
                  for folder in sorted({os.path.dirname(p.output_path) for p in pairs}))
    work = partial(convert_pair, read_train_ids=read_train_ids, num_classes=len(classes))
    if nproc == 1 or len(pairs) <= 1:
        results = track_progress(work, list(pairs))
    else:
        results = track_parallel_progress(work, list(pairs), nproc, chunksize=4,
                                          keep_order=False)
    results = sorted(results, key=lambda r: r.stem)
    usable = [r.stem for r in results if r.status != 'skipped']
    write_atomic(os.path.join(root, SPLIT_FILE), ''.join(f'{s}\n' for s in usable).encode())
    _write_json(os.path.join(root, STATS_FILE), class_statistics(results, classes))
    report = conversion_report(dataset, root, results, removed)
    _write_json(os.path.join(root, REPORT_FILE), report)
    return report


def summary_line(report: dict) -> str:
    """One human-readable line about a finished run."""
    return (f"{report['dataset']}: {report['num_pairs']} pairs, "
            f"{report['converted']} converted, {report['reused']} already done, "
            f"{len(report['skipped'])} skipped, {len(report['resized'])} labels resized; "
            f"see {os.path.join(report['root'], REPORT_FILE)}")

