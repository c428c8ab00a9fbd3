"""Real data for the benchmarks and examples, read from local files only.

Nothing in this module downloads anything.  Two loaders:

- :func:`load_fashion_mnist` reads Zalando's Fashion-MNIST (Xiao, Rasul &
  Vollgraf, 2017) from the idx files that Debian's ``dataset-fashion-mnist``
  package installs (``apt-get install dataset-fashion-mnist``), or from a
  directory you name.
- :func:`load_image_patches` samples small grey-level patches from the two
  photographs that ship with scikit-learn (:func:`sklearn.datasets.load_sample_images`),
  normalised as in Andrew Ng's sparse-autoencoder exercise.

and, for sequences:

- :func:`make_moving_digits` makes Moving-MNIST-style videos of digits
  bouncing inside a canvas (Srivastava, Mansimov & Salakhutdinov, 2015);
- :func:`sliding_windows` cuts a long series into rows of overlapping
  windows.
"""

from __future__ import annotations

import gzip
import os
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "load_fashion_mnist",
    "load_image_patches",
    "make_moving_digits",
    "read_idx",
    "sliding_windows",
]

#: Environment variable naming a directory that holds the Fashion-MNIST idx files.
FASHION_MNIST_ENV = "SKAE_FASHION_MNIST"

#: Where Debian's ``dataset-fashion-mnist`` package puts the files.
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# idx type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(ValueError):
    """An idx file whose header or length does not make sense."""


def read_idx(path) -> np.ndarray:
    """Read one array from an idx file (plain or gzip-compressed).

    The idx format (LeCun et al., the MNIST files) is a 4-byte magic number
    ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian uint32 dimensions,
    then the values in C order, big-endian.  Compression is recognised from
    the file's first bytes, not its name.

    Parameters
    ----------
    path : str or path-like
        The file to read.

    Returns
    -------
    array : ndarray
        The values, in native byte order, with the shape the header gives.

    Raises
    ------
    IdxFormatError
        (a ``ValueError``) if the magic number is wrong, the type code is
        unknown, or the payload is shorter or longer than the header says.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        compressed = fh.read(2) == _GZIP_MAGIC
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:  # truncated or corrupt gzip stream
        raise IdxFormatError(f"{path}: cannot decompress the file ({exc}).") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise IdxFormatError(
            f"{path} is not an idx file: its magic number should start with two zero "
            f"bytes, got {raw[:4].hex() or 'an empty file'}."
        )
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise IdxFormatError(f"{path}: unknown idx type code 0x{type_code:02x}.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxFormatError(f"{path}: the file ends inside its header.")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise IdxFormatError(
            f"{path}: the header announces shape {shape} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header} bytes; it is truncated or corrupt."
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _find_file(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _fashion_mnist_dir(data_home) -> Path:
    """The directory to read from, or a FileNotFoundError that says what to do."""
    stems = [stem for pair in _FASHION_MNIST_FILES.values() for stem in pair]
    if data_home is not None:
        directory, origin = Path(data_home).expanduser(), "the data_home argument"
    elif os.environ.get(FASHION_MNIST_ENV):
        directory = Path(os.environ[FASHION_MNIST_ENV]).expanduser()
        origin = f"the {FASHION_MNIST_ENV} environment variable"
    else:
        directory, origin = FASHION_MNIST_SYSTEM_DIR, "the default location"
    missing = [stem for stem in stems if _find_file(directory, stem) is None]
    if not missing:
        return directory
    raise FileNotFoundError(
        f"Fashion-MNIST not found in {directory} ({origin}): missing "
        f"{', '.join(s + '[.gz]' for s in missing)}. skae never downloads data. "
        "Install Debian's package (`sudo apt-get install dataset-fashion-mnist`, "
        f"which puts the files in {FASHION_MNIST_SYSTEM_DIR}), or download the four "
        "idx files from https://github.com/zalandoresearch/fashion-mnist yourself "
        f"and pass their directory as data_home= or in the {FASHION_MNIST_ENV} "
        "environment variable."
    )


def _load_fashion_mnist_split(directory: Path, split: str):
    image_stem, label_stem = _FASHION_MNIST_FILES[split]
    image_path = _find_file(directory, image_stem)
    label_path = _find_file(directory, label_stem)
    images = read_idx(image_path)
    labels = read_idx(label_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IdxFormatError(
            f"{image_path}: expected a 3-d array of unsigned bytes (images), got "
            f"{images.ndim}-d {images.dtype}."
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise IdxFormatError(
            f"{label_path}: expected a 1-d array of unsigned bytes (labels), got "
            f"{labels.ndim}-d {labels.dtype}."
        )
    if images.shape[0] != labels.shape[0]:
        raise IdxFormatError(
            f"{image_path} holds {images.shape[0]} images but {label_path} holds "
            f"{labels.shape[0]} labels."
        )
    return images, labels.astype(np.int64), [image_path, label_path]


def load_fashion_mnist(data_home=None, *, subset="train", return_X_y=False):
    """Load Fashion-MNIST from local idx files, pixels scaled to [0, 1].

    Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017) holds 28×28 grey-level
    images of clothing in 10 classes: 60 000 for training and 10 000 for
    testing, split as published.  Nothing is downloaded; the four files
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each
    optionally ``.gz``) are read from the first of

    1. ``data_home``, if given;
    2. the directory in the environment variable ``SKAE_FASHION_MNIST``;
    3. ``/usr/share/datasets/fashion-mnist``, where Debian's package
       ``dataset-fashion-mnist`` installs them.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Directory holding the idx files.
    subset : {"train", "test", "all"}, default="train"
        Which part to load, as in :func:`sklearn.datasets.fetch_20newsgroups`.
        ``"all"`` is the 60 000 training rows followed by the 10 000 test rows.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        - ``data``: float32 ndarray of shape (n_samples, 784), values
          ``pixel / 255`` in [0, 1];
        - ``target``: int64 ndarray of shape (n_samples,), class 0–9;
        - ``images``: the same pixels as (n_samples, 28, 28) (a view of ``data``);
        - ``target_names``: the 10 class names;
        - ``filenames``: the files read;
        - ``DESCR``: a short description.
    (data, target) : tuple of ndarrays
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        If a file is missing; the message says how to get them.
    ValueError
        If a file is not a valid idx file, or images and labels disagree.

    Examples
    --------
    >>> from skae.datasets import load_fashion_mnist  # doctest: +SKIP
    >>> X_train, y_train = load_fashion_mnist(return_X_y=True)  # doctest: +SKIP
    >>> X_test, y_test = load_fashion_mnist(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X_train.shape, X_test.shape  # doctest: +SKIP
    ((60000, 784), (10000, 784))
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all'; got {subset!r}.")
    directory = _fashion_mnist_dir(data_home)
    splits = ["train", "test"] if subset == "all" else [subset]
    parts = [_load_fashion_mnist_split(directory, split) for split in splits]
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    target = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    filenames = [str(f) for p in parts for f in p[2]]
    n, h, w = images.shape
    data = images.reshape(n, h * w).astype(np.float32)
    data /= np.float32(255.0)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=data.reshape(n, h, w),
        target_names=list(FASHION_MNIST_CLASSES),
        filenames=filenames,
        DESCR=(
            f"Fashion-MNIST ({subset}): {n} grey-level {h}x{w} images of clothing in "
            "10 classes, pixels scaled to [0, 1]. Xiao, Rasul & Vollgraf (2017), "
            f"'Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning "
            f"Algorithms', arXiv:1708.07747. Read from {directory}."
        ),
    )


def _whiten_olshausen_field(image: np.ndarray) -> np.ndarray:
    r"""Flatten the 1/f amplitude spectrum of a natural image.

    Olshausen & Field (1996, 1997) multiply the Fourier transform by

    .. math:: R(f) = f \exp\big(-(f / f_0)^4\big), \qquad f_0 = 0.4\, f_{\max},

    a ramp that whitens the 1/f spectrum combined with a low-pass filter that
    removes the highest frequencies (noise and sampling artefacts).  The
    images of Ng's exercise (``IMAGES.mat``) were prepared this way.
    """
    rows, cols = image.shape
    fy = np.fft.fftfreq(rows)[:, None]
    fx = np.fft.fftfreq(cols)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f0 = 0.4 * 0.5  # 0.4 of the Nyquist frequency (0.5 cycles per pixel)
    spectrum = np.fft.fft2(image - image.mean()) * (f * np.exp(-((f / f0) ** 4)))
    white = np.real(np.fft.ifft2(spectrum))
    return white / white.std()


def load_image_patches(patch_size=8, n_patches=10000, *, whiten=True, random_state=None):
    r"""Grey-level patches of natural images, for Ng's sparse-autoencoder exercise.

    Samples square patches uniformly from the two photographs shipped with
    scikit-learn (:func:`sklearn.datasets.load_sample_images`: a Chinese
    temple and a flower, 427×640 pixels each, no download), and normalises
    them as in Andrew Ng's CS294A notes (*Sparse autoencoder*, 2011, the
    ``sampleIMAGES`` exercise):

    1. convert to grey levels, :math:`0.299 R + 0.587 G + 0.114 B`, in [0, 1];
    2. if ``whiten``, flatten each image's 1/f spectrum with Olshausen &
       Field's filter :math:`f\,e^{-(f/f_0)^4}` (Ng's ``IMAGES.mat`` were whitened
       this way);
    3. subtract each patch's own mean (remove the DC component);
    4. clip at :math:`\pm 3\sigma`, with :math:`\sigma` the standard deviation
       of all patch values, and divide by :math:`3\sigma` (now in [-1, 1]);
    5. map linearly to [0.1, 0.9]: :math:`x \mapsto 0.4 (x + 1) + 0.1`, the
       range of a logistic output unit away from its flat tails.

    Parameters
    ----------
    patch_size : int, default=8
        Side of the square patches, in pixels.
    n_patches : int, default=10000
        Number of patches.
    whiten : bool, default=True
        Whiten the images before cutting patches (step 2).
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of image and position of each patch.

    Returns
    -------
    patches : ndarray of shape (n_patches, patch_size * patch_size), float32
        One patch per row, pixels in row-major order, values in [0.1, 0.9];
        ``patches[i].reshape(patch_size, patch_size)`` is the image.

    Examples
    --------
    >>> from skae.datasets import load_image_patches
    >>> X = load_image_patches(8, 1000, random_state=0)
    >>> X.shape, float(X.min()) >= 0.1, float(X.max()) <= 0.9
    ((1000, 64), True, True)
    """
    from sklearn.datasets import load_sample_images

    patch_size = int(patch_size)
    n_patches = int(n_patches)
    if patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer; got {patch_size}.")
    if n_patches < 1:
        raise ValueError(f"n_patches must be a positive integer; got {n_patches}.")
    rng = check_random_state(random_state)
    images = []
    for rgb in load_sample_images().images:
        grey = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0
        images.append(_whiten_olshausen_field(grey) if whiten else grey)
    smallest = min(min(im.shape) for im in images)
    if patch_size > smallest:
        raise ValueError(f"patch_size must be at most {smallest} pixels; got {patch_size}.")

    which = rng.randint(len(images), size=n_patches)
    offsets = np.arange(patch_size)
    patches = np.empty((n_patches, patch_size, patch_size))
    for k, image in enumerate(images):
        rows = np.flatnonzero(which == k)
        top = rng.randint(image.shape[0] - patch_size + 1, size=rows.size)
        left = rng.randint(image.shape[1] - patch_size + 1, size=rows.size)
        patches[rows] = image[
            top[:, None, None] + offsets[None, :, None],
            left[:, None, None] + offsets[None, None, :],
        ]
    patches = patches.reshape(n_patches, -1)
    patches -= patches.mean(axis=1, keepdims=True)
    limit = 3.0 * patches.std()
    if limit > 0:
        patches = np.clip(patches, -limit, limit) / limit
    patches = 0.4 * (patches + 1.0) + 0.1
    return patches.astype(np.float32)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def _moving_digit_images(source, data_home) -> np.ndarray:
    """The images that move: ``(n_images, side, side)`` float32 in [0, 1]."""
    if source == "digits":
        from sklearn.datasets import load_digits

        return (load_digits().images / 16.0).astype(np.float32)
    if source == "fashion-mnist":
        return load_fashion_mnist(data_home, subset="all").images
    raise ValueError(f"source must be 'digits' or 'fashion-mnist'; got {source!r}.")


def _bounce(start: np.ndarray, velocity: np.ndarray, n_frames: int, room: float) -> np.ndarray:
    """Positions along one axis, reflected at 0 and ``room``: ``(..., n_frames)``.

    A point moving at constant speed between two walls follows a triangle
    wave: its free path folded into ``[0, room]``.
    """
    free = start[..., None] + velocity[..., None] * np.arange(n_frames)
    if room == 0:
        return np.zeros_like(free)
    folded = np.mod(free, 2.0 * room)
    return np.where(folded > room, 2.0 * room - folded, folded)


def make_moving_digits(
    n_sequences=100,
    *,
    n_frames=20,
    canvas=None,
    digits=2,
    speed=None,
    source="digits",
    data_home=None,
    random_state=None,
):
    r"""Videos of digits bouncing inside a square canvas, as rows of pixels.

    The Moving MNIST data of Srivastava, Mansimov & Salakhutdinov
    (*Unsupervised learning of video representations using LSTMs*, ICML
    2015), made from images that need no download: each video shows
    ``digits`` images drawn at random from scikit-learn's 8×8 digits
    (:func:`sklearn.datasets.load_digits`) or from Fashion-MNIST's 28×28
    clothes (:func:`load_fashion_mnist`, from local files).  Each starts at
    a uniform position with a uniform direction and moves ``speed`` pixels
    a frame, bouncing off the canvas's edges; where images overlap, a pixel
    is the brighter of the two.

    Parameters
    ----------
    n_sequences : int, default=100
        Number of videos.
    n_frames : int, default=20
        Frames per video.
    canvas : int, default=None
        Side of the square canvas in pixels, at least the images' side.
        ``None`` is twice the images' side (16 for digits, 56 for
        Fashion-MNIST).
    digits : int, default=2
        Images per video.
    speed : float, default=None
        Pixels moved per frame; ``None`` is an eighth of the images' side
        (1 for digits, 3.5 for Fashion-MNIST).
    source : {"digits", "fashion-mnist"}, default="digits"
        Where the images come from.
    data_home : str or path-like, default=None
        Directory of the Fashion-MNIST files (see :func:`load_fashion_mnist`).
    random_state : int, RandomState instance or None, default=None
        Seeds the images, positions and directions.

    Returns
    -------
    X : ndarray of shape (n_sequences, n_frames * canvas * canvas), float32
        One video per row, frames in order, each frame's pixels row-major,
        values in [0, 1]: ``X.reshape(n_sequences, n_frames, canvas,
        canvas)`` gives the frames, and
        ``SequenceAE(sequence_shape=(n_frames, canvas * canvas))`` reads
        them.

    Examples
    --------
    >>> from skae.datasets import make_moving_digits
    >>> X = make_moving_digits(10, n_frames=8, random_state=0)
    >>> X.shape
    (10, 2048)
    >>> frames = X.reshape(10, 8, 16, 16)  # video, frame, row, column
    >>> float(frames.min()), float(frames.max())
    (0.0, 1.0)
    """
    n_sequences = _positive_int(n_sequences, "n_sequences")
    n_frames = _positive_int(n_frames, "n_frames")
    digits = _positive_int(digits, "digits")
    rng = check_random_state(random_state)
    images = _moving_digit_images(source, data_home)
    side = images.shape[1]
    canvas = 2 * side if canvas is None else _positive_int(canvas, "canvas")
    if canvas < side:
        raise ValueError(f"canvas must be at least the images' side, {side}; got {canvas}.")
    speed = side / 8.0 if speed is None else float(speed)
    if not (np.isfinite(speed) and speed >= 0):
        raise ValueError(f"speed must be a finite number >= 0; got {speed!r}.")

    room = float(canvas - side)
    shape = (n_sequences, digits)
    which = rng.randint(len(images), size=shape)
    start = rng.uniform(0.0, room, size=(2, *shape))
    angle = rng.uniform(0.0, 2.0 * np.pi, size=shape)
    velocity = speed * np.stack([np.sin(angle), np.cos(angle)])
    # Rounded positions, (2, n_sequences, digits, n_frames): rows, then columns.
    corners = np.rint(_bounce(start, velocity, n_frames, room)).astype(np.intp)
    corners = np.clip(corners, 0, canvas - side)

    videos = np.zeros((n_sequences, n_frames, canvas, canvas), dtype=np.float32)
    for i in range(n_sequences):
        for d in range(digits):
            image = images[which[i, d]]
            for t in range(n_frames):
                top, left = corners[0, i, d, t], corners[1, i, d, t]
                window = videos[i, t, top : top + side, left : left + side]
                np.maximum(window, image, out=window)
    return videos.reshape(n_sequences, -1)


def sliding_windows(series, width, step=1):
    """Cut a long series into overlapping windows, one window per row.

    The rows a :class:`~skae.SequenceAE` reads from one long recording
    (a sensor, an ECG, a price): window ``i`` holds the steps
    ``i * step, ..., i * step + width - 1``.  Steps that do not fill a last
    window are left out.

    Parameters
    ----------
    series : array-like of shape (n_steps,) or (n_steps, n_features)
        The series, one step per row (a univariate series may be 1-d).
    width : int
        Steps per window, at most ``n_steps``.
    step : int, default=1
        Steps between the starts of consecutive windows.

    Returns
    -------
    windows : ndarray of shape (n_windows, width * n_features)
        ``n_windows = (n_steps - width) // step + 1`` windows, each
        flattened step-major (``SequenceAE(sequence_shape=(width,
        n_features))`` reads them), in the dtype of ``series``; a copy.

    Examples
    --------
    >>> import numpy as np
    >>> from skae.datasets import sliding_windows
    >>> sliding_windows(np.arange(6), width=3, step=2)
    array([[0, 1, 2],
           [2, 3, 4]])
    >>> sliding_windows(np.arange(8).reshape(4, 2), width=2).shape
    (3, 4)
    """
    series = np.asarray(series)
    if series.ndim == 1:
        series = series[:, None]
    if series.ndim != 2:
        raise ValueError(
            "series must be 1-d (n_steps,) or 2-d (n_steps, n_features); got an array "
            f"of shape {series.shape}."
        )
    width = _positive_int(width, "width")
    step = _positive_int(step, "step")
    n_steps, n_features = series.shape
    if width > n_steps:
        raise ValueError(f"width={width} is longer than the series ({n_steps} steps).")
    # (n_windows, n_features, width) views, made step-major rows by the copy.
    views = np.lib.stride_tricks.sliding_window_view(series, width, axis=0)[::step]
    return np.ascontiguousarray(views.transpose(0, 2, 1)).reshape(len(views), width * n_features)
