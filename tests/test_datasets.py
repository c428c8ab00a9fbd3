"""skae.datasets: the idx reader, Fashion-MNIST's loader and the image patches.

The Fashion-MNIST tests write tiny idx files themselves, so they pass on a
machine without Debian's ``dataset-fashion-mnist``.
"""

import gzip
import struct

import numpy as np
import pytest

from skae.datasets import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_ENV,
    IdxFormatError,
    load_fashion_mnist,
    load_image_patches,
    read_idx,
)

IDX_TYPE = {np.dtype("u1"): 0x08, np.dtype("i2"): 0x0B, np.dtype("i4"): 0x0C}


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array)
    header = bytes([0, 0, IDX_TYPE[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, *, compress=False):
    data = idx_bytes(array)
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def fake_fashion_mnist(directory, *, compress=False, n_train=5, n_test=3, seed=0):
    """Write the four files with random pixels; return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, stem, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(directory / f"{stem}-images-idx3-ubyte", images, compress=compress)
        write_idx(directory / f"{stem}-labels-idx1-ubyte", labels, compress=compress)
        arrays[split] = (images, labels)
    return arrays


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(FASHION_MNIST_ENV, raising=False)


# ---------------------------------------------------------------- read_idx


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-3, 0, 1000], dtype=np.int16),
        np.array([[-70000, 1], [2, 3]], dtype=np.int32),
    ],
    ids=["ubyte-3d", "short-1d", "int-2d"],
)
def test_read_idx_round_trip(tmp_path, array, compress):
    path = write_idx(tmp_path / "a-idx", array, compress=compress)
    out = read_idx(path)
    assert out.shape == array.shape
    assert out.dtype == array.dtype  # native byte order
    np.testing.assert_array_equal(out, array)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    array = np.arange(6, dtype=np.uint8)
    path = tmp_path / "plain-name-idx1-ubyte"
    path.write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(path), array)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"", "two zero bytes"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "two zero bytes"),
        (b"\x00\x00\x42\x01" + struct.pack(">I", 1) + b"\x00", "type code 0x42"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 1), "ends inside its header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x00\x01", "truncated or corrupt"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"\x00\x01", "truncated or corrupt"),
    ],
    ids=["empty", "bad-magic", "bad-type", "short-header", "short-data", "long-data"],
)
def test_read_idx_rejects_corrupt_files(tmp_path, payload, message):
    path = tmp_path / "bad"
    path.write_bytes(payload)
    with pytest.raises(IdxFormatError, match=message):
        read_idx(path)
    assert issubclass(IdxFormatError, ValueError)


def test_read_idx_rejects_truncated_gzip(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8)))[:-12])
    with pytest.raises(IdxFormatError, match="decompress"):
        read_idx(path)


# ---------------------------------------------------------------- Fashion-MNIST


@pytest.mark.parametrize("compress", [False, True])
def test_load_fashion_mnist_from_data_home(tmp_path, compress):
    written = fake_fashion_mnist(tmp_path, compress=compress)
    bunch = load_fashion_mnist(tmp_path)
    images, labels = written["train"]
    assert bunch.data.shape == (5, 784)
    assert bunch.data.dtype == np.float32
    assert bunch.data.min() == 0.0 and bunch.data.max() == 1.0
    np.testing.assert_allclose(bunch.data, images.reshape(5, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(bunch.target, labels)
    assert bunch.target.dtype == np.int64
    assert bunch.images.shape == (5, 28, 28)
    assert np.shares_memory(bunch.images, bunch.data)
    assert bunch.target_names == list(FASHION_MNIST_CLASSES)
    assert len(bunch.filenames) == 2
    assert all(name.endswith(".gz") == compress for name in bunch.filenames)
    assert "Fashion-MNIST" in bunch.DESCR


def test_load_fashion_mnist_subsets_and_return_X_y(tmp_path):
    written = fake_fashion_mnist(tmp_path)
    X_test, y_test = load_fashion_mnist(tmp_path, subset="test", return_X_y=True)
    assert X_test.shape == (3, 784)
    np.testing.assert_array_equal(y_test, written["test"][1])
    X_all, y_all = load_fashion_mnist(tmp_path, subset="all", return_X_y=True)
    X_train, y_train = load_fashion_mnist(tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X_all, np.vstack([X_train, X_test]))
    np.testing.assert_array_equal(y_all, np.concatenate([y_train, y_test]))
    with pytest.raises(ValueError, match="subset"):
        load_fashion_mnist(tmp_path, subset="validation")


def test_load_fashion_mnist_reads_environment_variable(tmp_path, monkeypatch):
    fake_fashion_mnist(tmp_path, compress=True, n_train=4)
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path))
    X, _ = load_fashion_mnist(return_X_y=True)
    assert X.shape == (4, 784)


@pytest.mark.parametrize("use_env", [False, True])
def test_load_fashion_mnist_missing_files_says_how_to_get_them(tmp_path, monkeypatch, use_env):
    fake_fashion_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    if use_env:
        monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path))
        where = f"(the {FASHION_MNIST_ENV} environment variable)"
    else:
        where = "(the data_home argument)"
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(None if use_env else tmp_path)
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert where in message
    assert "train-images" not in message  # only the missing file is listed


def test_load_fashion_mnist_rejects_inconsistent_files(tmp_path):
    fake_fashion_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        load_fashion_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((5, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="1-d array"):
        load_fashion_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 784), dtype=np.uint8))
    with pytest.raises(ValueError, match="3-d array"):
        load_fashion_mnist(tmp_path)


# ---------------------------------------------------------------- image patches


@pytest.mark.parametrize("whiten", [True, False])
def test_load_image_patches_follows_ngs_normalisation(whiten):
    X = load_image_patches(8, 2000, whiten=whiten, random_state=0)
    assert X.shape == (2000, 64)
    assert X.dtype == np.float32
    assert X.min() >= 0.1 - 1e-6 and X.max() <= 0.9 + 1e-6
    # Each patch had its mean removed before the affine map to [0.1, 0.9],
    # so clipping aside every patch is centred on 0.5.
    assert abs(float(np.median(X.mean(axis=1))) - 0.5) < 0.01
    # Clipping at 3 standard deviations touches only a few values.
    assert np.mean((X <= 0.1 + 1e-6) | (X >= 0.9 - 1e-6)) < 0.05


def test_load_image_patches_is_seeded():
    a = load_image_patches(6, 300, random_state=1)
    np.testing.assert_array_equal(a, load_image_patches(6, 300, random_state=1))
    assert not np.array_equal(a, load_image_patches(6, 300, random_state=2))


def test_load_image_patches_validates_arguments():
    with pytest.raises(ValueError, match="patch_size"):
        load_image_patches(0)
    with pytest.raises(ValueError, match="patch_size"):
        load_image_patches(1000)
    with pytest.raises(ValueError, match="n_patches"):
        load_image_patches(8, 0)


def test_load_fashion_mnist_default_location(tmp_path, monkeypatch):
    import skae.datasets

    monkeypatch.setattr(skae.datasets, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="default location"):
        load_fashion_mnist()
    fake_fashion_mnist(tmp_path)
    monkeypatch.setattr(skae.datasets, "FASHION_MNIST_SYSTEM_DIR", tmp_path)
    assert load_fashion_mnist(subset="test").data.shape == (3, 784)


# ---------------------------------------------------------------- sequences


def test_make_moving_digits_shape_range_and_seed():
    from skae.datasets import make_moving_digits

    X = make_moving_digits(6, n_frames=5, random_state=0)
    assert X.shape == (6, 5 * 16 * 16) and X.dtype == np.float32
    assert X.min() >= 0.0 and X.max() <= 1.0
    np.testing.assert_array_equal(X, make_moving_digits(6, n_frames=5, random_state=0))
    assert not np.array_equal(X, make_moving_digits(6, n_frames=5, random_state=1))


def test_moving_digits_move_and_stay_inside_the_canvas():
    from skae.datasets import make_moving_digits

    videos = make_moving_digits(20, n_frames=12, canvas=12, digits=1, random_state=0)
    videos = videos.reshape(20, 12, 12, 12)
    # One 8x8 digit per frame, never cut by the edge: every frame holds the same ink.
    ink = videos.sum(axis=(2, 3))
    np.testing.assert_allclose(ink, ink[:, :1].repeat(12, axis=1), rtol=1e-5)
    # ...and it moves: consecutive frames differ.
    assert np.mean(np.any(videos[:, 1:] != videos[:, :-1], axis=(2, 3))) > 0.5


def test_moving_digits_bounce_off_the_walls():
    from skae.datasets import _bounce

    positions = _bounce(np.array([1.0]), np.array([1.0]), 8, room=3.0)[0]
    np.testing.assert_array_equal(positions, [1, 2, 3, 2, 1, 0, 1, 2])


def test_moving_digits_still_with_zero_speed():
    from skae.datasets import make_moving_digits

    videos = make_moving_digits(3, n_frames=4, speed=0, random_state=0).reshape(3, 4, -1)
    np.testing.assert_array_equal(videos, videos[:, :1].repeat(4, axis=1))


def test_make_moving_digits_validates_arguments():
    from skae.datasets import make_moving_digits

    with pytest.raises(ValueError, match="canvas must be at least"):
        make_moving_digits(2, canvas=7)
    with pytest.raises(ValueError, match="n_frames"):
        make_moving_digits(2, n_frames=0)
    with pytest.raises(ValueError, match="source"):
        make_moving_digits(2, source="mnist")
    with pytest.raises(ValueError, match="speed"):
        make_moving_digits(2, speed=-1)


def test_moving_fashion_mnist_from_local_files(tmp_path):
    from skae.datasets import make_moving_digits

    fake_fashion_mnist(tmp_path)
    X = make_moving_digits(
        2, n_frames=3, source="fashion-mnist", data_home=tmp_path, random_state=0
    )
    assert X.shape == (2, 3 * 56 * 56)


def test_sliding_windows_univariate_and_multivariate():
    from skae.datasets import sliding_windows

    np.testing.assert_array_equal(
        sliding_windows(np.arange(7), width=3, step=2), [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
    )
    series = np.arange(10.0).reshape(5, 2)  # 5 steps of 2 features
    windows = sliding_windows(series, width=2)
    assert windows.shape == (4, 4) and windows.dtype == np.float64
    np.testing.assert_array_equal(windows[1], series[1:3].ravel())
    # A copy: writing to it leaves the series alone.
    windows[0, 0] = -1.0
    assert series[0, 0] == 0.0


def test_sliding_windows_validates_arguments():
    from skae.datasets import sliding_windows

    with pytest.raises(ValueError, match="longer than the series"):
        sliding_windows(np.arange(3), width=4)
    with pytest.raises(ValueError, match="width"):
        sliding_windows(np.arange(3), width=0)
    with pytest.raises(ValueError, match="step"):
        sliding_windows(np.arange(3), width=2, step=0)
    with pytest.raises(ValueError, match=r"1-d .* or 2-d"):
        sliding_windows(np.zeros((4, 2, 2)), width=2)
