"""What each part is painted with: flat colours in the source domain, crops of real
photographs and textures bundled with scikit-image and scikit-learn in the target."""
import functools
import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np
from PIL import Image

# Flat "rendered" colours per part (RGB 0-255); one is picked per shape, then jittered.
FLAT_COLOURS: Dict[str, Sequence[Tuple[int, int, int]]] = {
    'sky': ((90, 150, 225), (110, 165, 235), (175, 200, 230)),  # incl. overcast
    'skyline': ((135, 130, 140), (150, 140, 130)),
    'foliage': ((55, 130, 45), (75, 145, 50), (45, 110, 55)),
    'park': ((95, 150, 60), (80, 140, 55)),
    'road': ((85, 85, 92), (100, 98, 104)),
    'lane': ((235, 235, 225),),
    'sidewalk': ((175, 165, 155), (160, 160, 165)),
    'building': ((190, 170, 135), (160, 90, 75), (135, 135, 145), (205, 195, 175)),
    'window': ((55, 70, 95), (150, 185, 210)),
    'bark': ((100, 70, 45),),
    'pole': ((125, 125, 130), (90, 110, 90)),
    'sign': ((205, 35, 35), (35, 75, 200), (235, 205, 35)),
    'legs': ((40, 45, 80), (35, 35, 40)),
    'cloth': ((200, 50, 50), (50, 120, 200), (235, 235, 235), (60, 160, 70), (240, 180, 40)),
    'face': ((225, 185, 150), (160, 110, 80)),
    'paint': ((200, 30, 30), (30, 60, 170), (235, 235, 240), (30, 30, 35), (175, 180, 185),
              (230, 200, 40)),
    'glass': ((40, 55, 70),),
    'wheel': ((20, 20, 22),),
    'fence': ((150, 115, 80), (120, 120, 110)),
    'fence_bar': ((95, 70, 50), (80, 80, 75)),
    'clutter': ((60, 120, 60), (110, 110, 110), (200, 130, 40)),
}


def _package_dir(module: str, requirement: str) -> Path:
    """Install folder of a package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f'the toy target domain needs the images bundled with {requirement} '
            f'(listed in projects/cpsl_lab/requirements.txt): pip install {requirement}')
    return Path(list(spec.submodule_search_locations)[0])


def _read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) float32 RGB in 0..255 of a bundled image."""
    if not path.is_file():
        raise FileNotFoundError(f'bundled image {path} is missing from its package')
    with Image.open(path) as im:
        return np.asarray(im.convert('RGB'), np.float32)


@dataclass(frozen=True)
class _Material:
    """Crops of one bundled image; grey ones are tinted with one of ``tints``."""

    image: str
    box: Tuple[int, int, int, int]      # x0, y0, x1, y1 in the image
    tints: Tuple[Tuple[int, int, int], ...] = ()
    scale: Tuple[float, float] = (1.0, 2.5)  # photo pixels per output pixel


# Which real content fills which part in the target domain.
PHOTO_MATERIALS: Dict[str, Tuple[_Material, ...]] = {
    'sky': (_Material('china', (380, 0, 640, 110), scale=(0.6, 1.2)),
            _Material('camera', (0, 0, 512, 90), ((205, 215, 230),), (0.6, 1.2))),
    'skyline': (_Material('camera', (250, 140, 512, 235), ((150, 155, 165),), (0.5, 1.0)),
                _Material('china', (290, 180, 420, 230), scale=(0.5, 1.0))),
    'foliage': (_Material('grass', (0, 0, 512, 512), ((70, 95, 45), (55, 85, 60)),
                          (2.0, 4.0)),
                _Material('flower', (0, 0, 150, 420), scale=(0.8, 2.0)),
                _Material('china', (330, 290, 640, 427)),
                _Material('china', (0, 300, 70, 427))),
    'park': (_Material('grass', (0, 0, 512, 512), ((105, 120, 60), (90, 110, 65)),
                       (2.0, 4.0)),),
    'road': (_Material('gravel', (0, 0, 512, 512), ((95, 95, 100), (80, 80, 84),
                                                     (110, 106, 100)), (3.0, 6.0)),),
    'lane': (_Material('gravel', (0, 0, 512, 512), ((215, 215, 205),), (3.0, 6.0)),),
    'sidewalk': (_Material('brick', (0, 0, 512, 512), ((160, 152, 145), (140, 140, 145)),
                           (2.0, 4.0)),
                 _Material('motorcycle', (0, 400, 741, 500), scale=(0.8, 2.0))),
    'building': (_Material('china', (90, 100, 340, 380)),
                 _Material('motorcycle', (0, 0, 741, 200)),
                 _Material('text', (0, 0, 448, 172), ((185, 170, 150), (150, 150, 155)))),
    'window': (_Material('hubble', (0, 0, 1000, 872), ((60, 70, 85),)),
               _Material('china', (380, 0, 640, 110), ((120, 140, 160),), (0.5, 1.0))),
    'bark': (_Material('grass', (0, 0, 512, 512), ((85, 62, 42), (70, 58, 48)), (2.0, 4.0)),),
    'pole': (_Material('moon', (0, 0, 512, 512), ((110, 110, 115), (70, 85, 75))),),
    'sign': (),  # plates with handwritten digits, see _paint_sign
    'legs': (_Material('ihc', (0, 0, 512, 512), ((45, 50, 75), (40, 40, 45))),),
    'cloth': (_Material('astronaut', (100, 250, 420, 512)),
              _Material('chelsea', (0, 0, 451, 300)),
              _Material('ihc', (0, 0, 512, 512)),
              _Material('ihc', (0, 0, 512, 512), ((190, 55, 50), (55, 95, 175),
                                                   (215, 215, 210), (70, 140, 75)))),
    'face': (),  # faces, see _paint_face
    'paint': (_Material('motorcycle', (300, 200, 700, 420)),
              _Material('color', (40, 40, 330, 330)),
              _Material('rocket', (130, 0, 430, 250))),
    'glass': (_Material('china', (380, 0, 640, 110), ((45, 55, 65),), (0.5, 1.0)),
              _Material('rocket', (130, 0, 430, 250), scale=(0.5, 1.0))),
    'wheel': (_Material('gravel', (0, 0, 512, 512), ((30, 30, 32),)),),
    # Wood grain is the fence's alone: the panel shows between the slats in shadow.
    'fence': (_Material('rocket', (0, 0, 95, 420), ((150, 150, 145), (80, 120, 85)),
                        (0.5, 1.0)),
              _Material('rocket', (560, 0, 640, 420), ((150, 150, 145), (80, 120, 85)),
                        (0.5, 1.0)),
              _Material('coffee', (450, 0, 600, 400), ((60, 45, 35), (40, 50, 42)))),
    'fence_bar': (_Material('coffee', (450, 0, 600, 400)),
                  _Material('coffee', (450, 0, 600, 400), ((215, 210, 200), (75, 110, 75),
                                                           (140, 140, 135))),),
    'clutter': (_Material('coins', (0, 0, 384, 303), ((150, 150, 140),)),
                _Material('cell', (0, 0, 660, 550), ((120, 130, 110),)),
                _Material('retina', (200, 200, 1200, 1200))),
}

_SKIMAGE_FILES = dict(brick='brick.png', grass='grass.png', gravel='gravel.png',
                      camera='camera.png', moon='moon.png', text='text.png',
                      coins='coins.png', cell='cell.png', astronaut='astronaut.png',
                      chelsea='chelsea.png', coffee='coffee.png', color='color.png',
                      motorcycle='motorcycle_left.png', rocket='rocket.jpg',
                      hubble='hubble_deep_field.jpg', retina='retina.jpg', ihc='ihc.png')
_SKLEARN_FILES = dict(china='china.jpg', flower='flower.jpg')


@functools.lru_cache(maxsize=1)
def load_photo_bank() -> Dict[str, np.ndarray]:
    """The bundled real content, read from package data (never downloaded).

    Returns:
        name -> float32 array: photographs and textures as (H, W, 3) RGB in 0..255,
        ``'faces'`` as (200, 25, 25) grey faces in 0..1 (scikit-image's LFW subset) and
        ``'digits'`` as (1797, 8, 8) handwritten digits in 0..1 (scikit-learn).
    """
    skimage_data = _package_dir('skimage', 'scikit-image') / 'data'
    sklearn_dir = _package_dir('sklearn', 'scikit-learn') / 'datasets'
    bank = {name: _read_rgb(skimage_data / file) for name, file in _SKIMAGE_FILES.items()}
    bank.update({name: _read_rgb(sklearn_dir / 'images' / file)
                 for name, file in _SKLEARN_FILES.items()})
    faces_path = skimage_data / 'lfw_subset.npy'
    if not faces_path.is_file():
        raise FileNotFoundError(f'bundled faces {faces_path} are missing from scikit-image')
    bank['faces'] = np.load(faces_path).astype(np.float32)
    digits_path = sklearn_dir / 'data' / 'digits.csv.gz'
    with gzip.open(digits_path, 'rt') as f:
        digits = np.loadtxt(f, delimiter=',', dtype=np.float32)
    bank['digits'] = digits[:, :64].reshape(-1, 8, 8) / 16.0
    return bank
