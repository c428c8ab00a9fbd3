"""SciPy sparse input: densified a batch at a time, the same model as dense input."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from skae import (
    VAE,
    ContractiveAE,
    ConvolutionalAE,
    DenoisingAE,
    SparseAE,
    StackedAE,
    UndercompleteAE,
)
from skae._scaling import mean_and_mean_variance


def _sparse_rows(n=300, d=36, density=0.2, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=rng, format="csr", dtype=np.float64)
    X.data = rng.uniform(0.1, 1.0, size=X.nnz)
    return X.astype(dtype)


SMALL = dict(max_iter=2, batch_size=64, random_state=0)
ESTIMATORS = [
    UndercompleteAE(4, hidden_layer_sizes=(8,), **SMALL),
    SparseAE(12, hidden_layer_sizes=(8,), **SMALL),
    DenoisingAE(4, hidden_layer_sizes=(8,), noise="salt_and_pepper", **SMALL),
    ContractiveAE(4, hidden_layer_sizes=(8,), **SMALL),
    VAE(3, hidden_layer_sizes=(8,), **SMALL),
    StackedAE(3, hidden_layer_sizes=(8,), **SMALL),
    ConvolutionalAE(4, channels=(2,), **SMALL),
    UndercompleteAE(4, hidden_layer_sizes=(8,), loss="bce", **SMALL),
    UndercompleteAE(4, hidden_layer_sizes=(8,), early_stopping=True, **SMALL),
]
IDS = [
    f"{type(e).__name__}-{e.get_params().get('loss')}-{e.get_params().get('early_stopping')}"
    for e in ESTIMATORS
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_gives_the_model_of_its_dense_equivalent(estimator, fmt):
    """The same batches, so the same model bit for bit; StackedAE's first
    layer reads the sparse rows unscaled, which rounds them differently."""
    if isinstance(estimator, StackedAE):

        def same(a, b):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    else:
        same = np.testing.assert_array_equal
    X = _sparse_rows()
    dense = estimator.__class__(**estimator.get_params()).fit(X.toarray())
    sparse = estimator.__class__(**estimator.get_params()).fit(X.asformat(fmt))
    same(sparse.loss_curve_, dense.loss_curve_)
    same(sparse.transform(X), dense.transform(X.toarray()))
    same(sparse.score_samples(X), dense.score_samples(X.toarray()))
    sparse.partial_fit(X)
    dense.partial_fit(X.toarray())
    same(sparse.transform(X), dense.transform(X.toarray()))


def test_inverse_transform_of_sparse_input_is_dense():
    X = _sparse_rows()
    ae = UndercompleteAE(4, hidden_layer_sizes=(8,), **SMALL).fit(X)
    X_hat = ae.inverse_transform(ae.transform(X))
    assert isinstance(X_hat, np.ndarray) and X_hat.shape == X.shape
    np.testing.assert_array_equal(ae.reconstruct(X), X_hat)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_output_follows_the_input_dtype(dtype):
    X = _sparse_rows(dtype=dtype)
    ae = UndercompleteAE(4, hidden_layer_sizes=(8,), **SMALL).fit(X)
    assert ae.transform(X).dtype == dtype
    np.testing.assert_array_equal(ae.transform(X), ae.transform(X.toarray()))


def test_wide_sparse_rows_are_encoded_in_bounded_chunks(monkeypatch):
    from skae import _base

    X = _sparse_rows(n=50, d=40)
    ae = UndercompleteAE(4, hidden_layer_sizes=(8,), **SMALL).fit(X)
    expected = ae.transform(X.toarray())
    monkeypatch.setattr(_base, "SPARSE_CHUNK_VALUES", 7 * 40)  # 7 rows a chunk
    # float32 products may round by the height of their batch.
    np.testing.assert_allclose(ae.transform(X), expected, rtol=1e-5, atol=1e-6)


def test_column_statistics_of_sparse_rows_are_those_of_the_dense_rows(monkeypatch):
    from skae import _scaling

    monkeypatch.setattr(_scaling, "STATISTICS_CHUNK_ELEMENTS", 50)
    X = _sparse_rows(n=101, d=9)
    mean, variance = mean_and_mean_variance(X)
    dense_mean, dense_variance = mean_and_mean_variance(X.toarray())
    np.testing.assert_array_equal(mean, dense_mean)
    assert variance == dense_variance


def test_a_fit_never_densifies_all_of_a_sparse_matrix():
    """Peak memory of fit + transform on a 30,000 x 10,000 CSR matrix at 0.1%
    density (dense: 1.2 GB in float32) stays within a few batches of 10 MB.

    glibc's malloc raises its memory-map threshold as large blocks are freed
    and then serves batch-sized blocks from a heap that fragments; the fixed
    threshold set for the child makes its peak measure what skae allocates.
    The peak is the kernel's VmHWM: ``getrusage``'s ``ru_maxrss`` starts a
    child at its parent's peak, so it would hide the fit's growth.
    """
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs Linux's /proc/self/status (VmHWM)")
    script = textwrap.dedent(
        """
        import json
        import numpy as np, scipy.sparse as sp
        from skae import UndercompleteAE

        def peak_kib():
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])

        rng = np.random.default_rng(0)
        X = sp.random(30_000, 10_000, density=0.001, random_state=rng, format="csr",
                      dtype=np.float32)
        ae = UndercompleteAE(2, hidden_layer_sizes=(4,), max_iter=1, random_state=0)
        before = peak_kib()
        ae.fit(X)
        codes = ae.transform(X)
        after = peak_kib()
        print(json.dumps({"growth_mb": (after - before) / 1024, "shape": codes.shape}))
        """
    )
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(2**20)}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        env=env,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["shape"] == [30_000, 2]
    assert result["growth_mb"] < 250, result


def test_rows_gather_sparse_batches_as_dense_copies():
    from skae._batches import Rows

    X = _sparse_rows(n=20, d=5)
    rows = Rows(X, "cpu")
    assert rows.sparse and rows.shape == (20, 5) and len(rows) == 20
    batch = rows.gather(torch.tensor([3, 0, 7]))
    np.testing.assert_array_equal(batch.numpy(), X.toarray()[[3, 0, 7]])
    np.testing.assert_array_equal(rows.slice(2, 6).numpy(), X.toarray()[2:6])
    subset = rows.subset(torch.tensor([1, 2]))
    np.testing.assert_array_equal(subset.slice(0, 2).numpy(), X.toarray()[[1, 2]])
