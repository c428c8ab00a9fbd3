"""Sparse 0/1 data: skae's autoencoders against TruncatedSVD on a user-by-item matrix.

Usage::

    python benchmarks/sparse.py --threads 1   # the full run: benchmarks/results/sparse.*
    python benchmarks/sparse.py --quick       # a tiny matrix, in a temporary folder

The data is generated: no installed package ships a user-by-item, ratings or
bag-of-words matrix that can be read offline (scikit-learn's text corpora are
downloaded by their fetchers, and Debian's ``r-cran-tm`` holds 70 short news
articles).  The generated matrix mimics implicit-feedback data (a row per
user, a 1 for each item the user played): the probability that user ``u``
played item ``j`` is the logistic of

    c + log(popularity_j) + log(activity_u) + strength * <z_u, w_j>

with a power-law (Zipf) item popularity, log-normal user activity, a
low-rank taste ``<z_u, w_j>`` (``RANK`` dimensions) and ``c`` set for the
density asked; each entry is then drawn from that Bernoulli, which is the
noise.  It is made in blocks of rows, so the dense matrix never exists.

Every method gets the same code size (``CODE``) and is fitted on the CSR
training rows, each in its own child process (started with a fixed glibc
memory-map threshold, so that its peak resident memory measures what the fit
allocates and not a fragmented heap); the child reports the fit time, the
peak memory growth of the fit over the loaded input, and the metrics on the
test rows:

- **MSE**: the mean squared error of the dense reconstruction of every test
  row (all its items given) against its 0/1 truth;
- **recall@k**: each test user's items are split at random into 80% given
  and 20% held out; the model reconstructs the row from the given items, the
  items not given are ranked by their reconstruction, and recall@k is the
  number of held-out items among the top ``k``, divided by ``min(k, held out)``
  (the normalisation of Liang et al., 2018, "Variational autoencoders for
  collaborative filtering").

The item popularity of the training rows (no model) is the reference for both.
Last, one epoch of ``LARGE_METHOD`` on a matrix of more users (the same items
and density) is measured for its peak memory alone, to show whether it grows
with the rows, as a dense copy would.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
import torch

import skae

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

#: The width of every method's code.
CODE = 32

#: The rank of the generated taste structure.
RANK = 16

#: The length of the ranked list for recall@k.
TOP_K = 20

#: The share of each test user's items held out for recall@k.
HELD_OUT = 0.2

#: glibc's threshold above which blocks are memory-mapped, fixed in the children.
MMAP_THRESHOLD = 2**20

#: (users, items, density, epochs) of the full and the quick run.
FULL = {"users": 20_000, "items": 2_000, "density": 0.01, "epochs": 15}
QUICK = {"users": 600, "items": 200, "density": 0.05, "epochs": 2}

#: Users of the larger matrix (the same items and density) whose fit is
#: measured for its memory only, in the full and the quick run.
LARGE_USERS = {"full": 100_000, "quick": 3_000}

#: The method fitted for one epoch on it.
LARGE_METHOD = 'UndercompleteAE(loss="bce")'

#: The methods, in the report's order, and what each is.
METHODS = {
    "TruncatedSVD": "scikit-learn's TruncatedSVD(32) (randomized, its defaults)",
    "UndercompleteAE": "UndercompleteAE(32, max_iter=EPOCHS), its defaults otherwise "
    '(loss="mse"; output_activation="auto" is the logistic for data in [0, 1])',
    'UndercompleteAE(loss="bce")': 'UndercompleteAE(32, loss="bce", max_iter=EPOCHS): '
    "Bernoulli cross-entropy, the likelihood of 0/1 data",
    'DenoisingAE(loss="bce")': 'DenoisingAE(32, loss="bce", max_iter=EPOCHS): the same, '
    "trained to restore rows with 25% of their entries masked (its default noise), "
    "as collaborative denoising autoencoders are",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -------------------------------------------------------------------- data


def generate(
    users: int, items: int, density: float, seed: int = 0, rank: int = RANK
) -> sp.csr_matrix:
    """A seeded 0/1 user-by-item CSR matrix (float32) of about ``density``."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.9  # Zipf
    popularity = rng.permutation(popularity)  # popular items are not the first columns
    activity = rng.lognormal(0.0, 0.7, size=users)
    z = rng.normal(size=(users, rank)) / np.sqrt(rank)
    w = rng.normal(size=(items, rank))
    strength = 1.5
    log_popularity, log_activity = np.log(popularity), np.log(activity)

    def logits(rows):
        return log_popularity[None, :] + log_activity[rows, None] + strength * (z[rows] @ w.T)

    # c such that the expected density is the one asked, from a sample of rows.
    sample = logits(rng.choice(users, size=min(users, 500), replace=False))
    low, high = -30.0, 30.0
    for _ in range(60):
        c = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(sample + c)))) > density:
            high = c
        else:
            low = c
    blocks = []
    for start in range(0, users, 1000):
        rows = np.arange(start, min(users, start + 1000))
        p = 1 / (1 + np.exp(-(logits(rows) + c)))
        blocks.append(sp.csr_matrix((rng.uniform(size=p.shape) < p).astype(np.float32)))
    X = sp.vstack(blocks, format="csr")
    X.sort_indices()
    return X


def split_given(X: sp.csr_matrix, share: float, seed: int):
    """``(given, held)``: each row's items split at random, ``share`` held out
    (at least one where the row has two items or more)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(X.nnz, dtype=bool)
    for i in range(X.shape[0]):
        start, end = X.indptr[i], X.indptr[i + 1]
        n = end - start
        if n >= 2:
            pick = rng.choice(n, size=max(1, round(share * n)), replace=False)
            held[start + pick] = True
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))

    def part(keep):
        return sp.csr_matrix(
            (X.data[keep], (rows[keep], X.indices[keep])), shape=X.shape, dtype=np.float32
        )

    return part(~held), part(held)


def recall_at_k(scores: np.ndarray, given: sp.csr_matrix, held: sp.csr_matrix, k: int) -> float:
    """Mean over the rows with held-out items of their recall@k (Liang et al.'s)."""
    scores = np.array(scores, dtype=np.float64)
    scores[given.nonzero()] = -np.inf  # items given are not recommended
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    counts = np.diff(held.indptr)
    recalls = []
    for i in np.flatnonzero(counts):
        hits = np.isin(top[i], held.indices[held.indptr[i] : held.indptr[i + 1]]).sum()
        recalls.append(hits / min(k, counts[i]))
    return float(np.mean(recalls))


# ----------------------------------------------------------------- methods


def make_method(name: str, epochs: int, seed: int):
    from sklearn.decomposition import TruncatedSVD

    from skae import DenoisingAE, UndercompleteAE

    if name == "TruncatedSVD":
        return TruncatedSVD(CODE, random_state=seed)
    if name == "UndercompleteAE":
        return UndercompleteAE(CODE, max_iter=epochs, random_state=seed)
    if name == 'UndercompleteAE(loss="bce")':
        return UndercompleteAE(CODE, loss="bce", max_iter=epochs, random_state=seed)
    if name == 'DenoisingAE(loss="bce")':
        return DenoisingAE(CODE, loss="bce", max_iter=epochs, random_state=seed)
    raise ValueError(name)


def reconstruct(model, X) -> np.ndarray:
    """The dense reconstruction of the rows of ``X``."""
    return np.asarray(model.inverse_transform(model.transform(X)))


def peak_rss_kib() -> int:
    """This process's peak resident memory in KiB, since its program started.

    ``/proc/self/status``'s ``VmHWM`` where there is one: ``getrusage``'s
    ``ru_maxrss`` keeps the peak of the process that started this one, so a
    child of a large parent would measure nothing.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(data_path: Path, name: str, epochs: int, seed: int, threads: int) -> dict:
    """Fit one method on the saved training rows and measure it; run in a child process."""
    torch.set_num_threads(threads)
    data = np.load(data_path)
    X_train = sp.csr_matrix(
        (data["train_data"], data["train_indices"], data["train_indptr"]),
        shape=tuple(data["train_shape"]),
    )
    model = make_method(name, epochs, seed)
    before = peak_rss_kib()
    start = time.perf_counter()
    model.fit(X_train)
    fit_seconds = time.perf_counter() - start
    after = peak_rss_kib()
    del X_train
    measured = {
        "method": name,
        "fit_seconds": fit_seconds,
        "fit_peak_growth_mib": (after - before) / 1024,
        "epochs": int(getattr(model, "n_iter_", 0)) or None,
    }
    if "test_shape" not in data:  # a fit measured for its memory only
        return measured
    test = {}
    for part in ("test", "given", "held"):
        test[part] = sp.csr_matrix(
            (data[f"{part}_data"], data[f"{part}_indices"], data[f"{part}_indptr"]),
            shape=tuple(data["test_shape"]),
        )
    mse = float(np.mean((reconstruct(model, test["test"]) - test["test"].toarray()) ** 2))
    recall = recall_at_k(reconstruct(model, test["given"]), test["given"], test["held"], TOP_K)
    return {**measured, "test_mse": mse, f"recall_at_{TOP_K}": recall}


def run_child(data_path: Path, name: str, epochs: int, seed: int, threads: int) -> dict:
    # Every method on the CPU, in the child only: this process's torch is left as it is.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "CUDA_VISIBLE_DEVICES": ""}
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[variable] = str(threads)
    command = [
        sys.executable,
        "-m",
        "benchmarks.sparse",
        "--child",
        name,
        "--data",
        str(data_path),
        "--epochs",
        str(epochs),
        "--seed",
        str(seed),
        "--threads",
        str(threads),
    ]
    # From the repository's root, so that the child imports the skae beside it.
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if out.returncode:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def popularity_baseline(X_train, test, given, held) -> dict:
    """The training rows' item frequencies as every row's reconstruction."""
    frequency = np.asarray(X_train.mean(axis=0)).ravel()
    truth = test.toarray()
    mse = float(np.mean((truth - frequency[None, :]) ** 2))
    scores = np.broadcast_to(frequency, given.shape)
    return {
        "method": "item popularity (no model)",
        "fit_seconds": 0.0,
        "fit_peak_growth_mib": None,
        "epochs": None,
        "test_mse": mse,
        f"recall_at_{TOP_K}": recall_at_k(scores, given, held, TOP_K),
    }


def describe_machine(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "torch_threads": threads,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "torch": torch.__version__,
            "skae": skae.__version__,
        },
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def csr_bytes(X: sp.csr_matrix) -> int:
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes


def large_fit(size: dict, users: int, seed: int, threads: int, work: Path) -> dict:
    """One epoch of ``LARGE_METHOD`` on a larger matrix, measured for its peak memory."""
    log(f"generating {users} x {size['items']} at density {size['density']}")
    X = generate(users, size["items"], size["density"], seed + 1)
    data_path = work / "sparse-large.npz"
    np.savez(
        data_path,
        train_shape=np.array(X.shape),
        train_data=X.data,
        train_indices=X.indices,
        train_indptr=X.indptr,
    )
    log(f"fitting {LARGE_METHOD} for one epoch")
    measured = run_child(data_path, LARGE_METHOD, 1, seed, threads)
    log(f"  {measured}")
    return {
        **measured,
        "users": users,
        "items": size["items"],
        "csr_mib": csr_bytes(X) / 2**20,
        "dense_float32_mib": X.shape[0] * X.shape[1] * 4 / 2**20,
    }


def run(quick: bool, seed: int, threads: int, work: Path) -> dict:
    size = QUICK if quick else FULL
    log(f"generating {size['users']} x {size['items']} at density {size['density']}")
    X = generate(size["users"], size["items"], size["density"], seed)
    n_test = size["users"] // 5
    X_train, X_test = X[:-n_test], X[-n_test:]
    given, held = split_given(X_test, HELD_OUT, seed)
    data_path = work / "sparse-data.npz"
    arrays = {"train_shape": np.array(X_train.shape), "test_shape": np.array(X_test.shape)}
    for part, M in (("train", X_train), ("test", X_test), ("given", given), ("held", held)):
        arrays.update(
            {f"{part}_data": M.data, f"{part}_indices": M.indices, f"{part}_indptr": M.indptr}
        )
    np.savez(data_path, **arrays)
    load_start = os.getloadavg()
    rows = [popularity_baseline(X_train, X_test, given, held)]
    for name in METHODS:
        log(f"fitting {name}")
        rows.append(run_child(data_path, name, size["epochs"], seed, threads))
        log(f"  {rows[-1]}")
    large = large_fit(size, LARGE_USERS["quick" if quick else "full"], seed, threads, work)
    item_counts = np.diff(X.tocsc().indptr)
    return {
        "quick": quick,
        "machine": describe_machine(threads),
        "load_average_start": list(load_start),
        "load_average_end": list(os.getloadavg()),
        "data": {
            **size,
            "train_rows": X_train.shape[0],
            "test_rows": X_test.shape[0],
            "rank": RANK,
            "observed_density": X.nnz / (X.shape[0] * X.shape[1]),
            "items_per_user_median": float(np.median(np.diff(X.indptr))),
            "top_1pct_items_share": float(
                np.sort(item_counts)[::-1][: max(1, len(item_counts) // 100)].sum() / X.nnz
            ),
            "train_csr_mib": csr_bytes(X_train) / 2**20,
            "train_dense_float32_mib": X_train.shape[0] * X_train.shape[1] * 4 / 2**20,
            "held_out_per_user": HELD_OUT,
            "top_k": TOP_K,
        },
        "code": CODE,
        "rows": rows,
        "large_fit": large,
    }


# ------------------------------------------------------------------ report


def network_mib(items: int, hidden: int = 1024, code: int = CODE) -> float:
    """The float32 weights and biases of an ``items``-``hidden``-``code`` autoencoder, in MiB."""
    weights = 2 * (items * hidden + hidden * code)
    biases = 2 * hidden + code + items
    return 4 * (weights + biases) / 2**20


def write_report(result: dict, out: Path, command: str) -> None:
    data, machine = result["data"], result["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    epochs = data["epochs"]
    k = data["top_k"]
    svd = next(r for r in result["rows"] if r["method"] == "TruncatedSVD")
    lines = [
        "# Sparse 0/1 data: skae's autoencoders against TruncatedSVD",
        "",
        f"Command: `{command}`"
        + (" (quick: a tiny matrix, not results)" if result["quick"] else ""),
        "",
        f"Machine: {machine['cpu']}, {machine['logical_cores']} logical cores, "
        f"torch threads {machine['torch_threads']}; {versions}; {machine['date']}. "
        "Load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{v:.1f}" for v in result["load_average_start"])
        + "; at the end: "
        + ", ".join(f"{v:.1f}" for v in result["load_average_end"])
        + " (a load above the core count means other processes shared the CPU: "
        "every method's time is inflated, in the same run).",
        "",
        f"Data: a generated user-by-item 0/1 matrix of {data['users']:,} users x "
        f"{data['items']:,} items at density {data['observed_density']:.4f} (median "
        f"{data['items_per_user_median']:.0f} items per user; the top 1% of items hold "
        f"{100 * data['top_1pct_items_share']:.0f}% of the 1s): Zipf item popularity, "
        f"log-normal user activity, a rank-{data['rank']} taste structure, each entry a "
        "Bernoulli draw (see the module's docstring).  No installed package ships a real "
        "user-by-item or bag-of-words matrix that can be read offline, so the data "
        f"mimics one.  {data['train_rows']:,} training rows, the last "
        f"{data['test_rows']:,} rows to test.  The training rows take "
        f"{data['train_csr_mib']:.1f} MiB as CSR, {data['train_dense_float32_mib']:.0f} "
        "MiB as a dense float32 array.",
        "",
        "Methods, each with a code of " + f"{result['code']} and fitted on the CSR rows:",
        "",
        *(f"- {text.replace('EPOCHS', str(epochs))}" for text in METHODS.values()),
        "",
        f"The skae estimators train for {epochs} epochs (their default "
        '`max_iter="auto"` would run '
        f"{min(200, -(-4800 // -(-data['train_rows'] // 256)))} here); "
        "their networks are the default 1024-unit hidden layer each side.",
        "",
        f"MSE: of the dense reconstruction of the test rows against their 0/1 truth.  "
        f"Recall@{k}: {100 * data['held_out_per_user']:.0f}% of each test user's items "
        f"held out, the rest given; the number of held-out items among the top {k} of "
        f"the items not given, divided by min({k}, held out), averaged over the users.  "
        "Fit peak memory: how much the peak resident memory (VmHWM) of the fit's own "
        "process grew during `fit`, over "
        "the libraries imported and the CSR input loaded before it.",
        "",
        f"| method | test MSE | MSE / SVD's | recall@{k} | fit (s) | fit peak memory (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        memory = r["fit_peak_growth_mib"]
        lines.append(
            f"| {r['method']} | {r['test_mse']:.5f} | {r['test_mse'] / svd['test_mse']:.3f} | "
            f"{r[f'recall_at_{k}']:.3f} | {r['fit_seconds']:.1f} | "
            + ("" if memory is None else f"{memory:.0f}")
            + " |"
        )
    best_mse = min(result["rows"], key=lambda r: r["test_mse"])
    best_recall = max(result["rows"], key=lambda r: r[f"recall_at_{k}"])
    lines += [
        "",
        f"Lowest test MSE: {best_mse['method']} ({best_mse['test_mse']:.5f}, "
        f"{best_mse['test_mse'] / svd['test_mse']:.3f}x TruncatedSVD's); highest "
        f"recall@{k}: {best_recall['method']} ({best_recall[f'recall_at_{k}']:.3f} against "
        f"TruncatedSVD's {svd[f'recall_at_{k}']:.3f} and the item popularity's "
        f"{result['rows'][0][f'recall_at_{k}']:.3f}).",
        "",
    ]
    large = result.get("large_fit")
    if large is not None:
        same = next(r for r in result["rows"] if r["method"] == large["method"])
        lines += [
            "## Peak memory on more rows",
            "",
            f"One epoch of {large['method']} on a generated {large['users']:,} x "
            f"{large['items']:,} matrix of the same density (another seed): its CSR takes "
            f"{large['csr_mib']:.1f} MiB, a dense float32 copy {large['dense_float32_mib']:.0f}"
            f" MiB.  The fit's peak memory grew by {large['fit_peak_growth_mib']:.0f} MiB "
            f"({large['fit_seconds']:.1f} s), against {same['fit_peak_growth_mib']:.0f} MiB "
            f"on the {data['train_rows']:,} training rows above (dense: "
            f"{data['train_dense_float32_mib']:.0f} MiB).  Of either, the network's float32 "
            "weights, their gradients and Adam's two moments take "
            f"{4 * network_mib(data['items']):.0f} MiB.",
            "",
        ]
    (out / "sparse.md").write_text("\n".join(lines))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny matrix, written to a temporary folder unless --out is given",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where to write sparse.md and sparse.json (default {RESULTS})",
    )
    parser.add_argument("--seed", type=int, default=0, help="the data's and every method's seed")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch's and the BLAS's threads in each fit"
    )
    parser.add_argument(
        "--rewrite",
        type=Path,
        default=None,
        help="write sparse.md again from the sparse.json of a run, next to it, and stop",
    )
    # The child process of one fit.
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rewrite is not None:
        result = json.loads(args.rewrite.read_text())
        command = result.get("command") or (
            f"python benchmarks/sparse.py --threads {result['machine']['torch_threads']}"
        )
        write_report(result, args.rewrite.parent, command)
        return
    if args.child is not None:
        print(json.dumps(child(args.data, args.child, args.epochs, args.seed, args.threads)))
        return
    out = args.out or (Path(tempfile.mkdtemp(prefix="skae-sparse-")) if args.quick else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="skae-sparse-data-") as work:
        result = run(args.quick, args.seed, args.threads, Path(work))
    command = " ".join(
        ["python benchmarks/sparse.py", *(argv if argv is not None else sys.argv[1:])]
    )
    result["command"] = command
    (out / "sparse.json").write_text(json.dumps(result, indent=1) + "\n")
    write_report(result, out, command)
    log(f"wrote {out / 'sparse.md'}")


if __name__ == "__main__":
    main()
