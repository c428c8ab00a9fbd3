"""The benchmarks' own logic: kNN protocol, estimator discovery, timings, the speed report."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier

import skae
from benchmarks import profile_training, sparse
from benchmarks.speed import common, precision, render, threads, train, transform, vae, variants

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def vs_pca():
    spec = importlib.util.spec_from_file_location("vs_pca", ROOT / "benchmarks" / "vs_pca.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_knn_accuracy_matches_grid_search(vs_pca, digits):
    X_train, X_test, y_train, y_test = digits
    Z_train, Z_test = X_train[:, ::4], X_test[:, ::4]  # 16 features: some ties, fast
    accuracy, k = vs_pca.knn_accuracy(Z_train, y_train, Z_test, y_test, seed=0)
    search = GridSearchCV(
        KNeighborsClassifier(algorithm="brute"),
        {"n_neighbors": list(vs_pca.NEIGHBORS)},
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
    ).fit(Z_train, y_train)
    assert k == search.best_params_["n_neighbors"]
    assert accuracy == pytest.approx(search.score(Z_test, y_test))


def test_discovery_and_settings(vs_pca):
    found = vs_pca.skae_estimators()
    assert "UndercompleteAE" in found
    assert set(found) <= set(skae.__all__)
    for dataset in vs_pca.SETTINGS:
        for cls in found.values():
            model = vs_pca.make_estimator(cls, dataset, 4, seed=0)
            assert model.n_components == 4 and model.random_state == 0
            assert set(vs_pca.table_settings(cls, dataset)) <= set(model.get_params())
    assert not (set(vs_pca.SETTINGS["fashion_mnist"]) - {"*"} - set(found))


def test_results_table_and_plot(vs_pca, tmp_path, digits):
    X_train, X_test, y_train, y_test = digits
    data = (X_train[:300], X_test[:100], y_train[:300], y_test[:100])
    model = vs_pca.make_estimator(skae.UndercompleteAE, "digits", 4, seed=0).set_params(max_iter=3)
    row = vs_pca.evaluate("UndercompleteAE", model, data, seed=0, knn=False)
    assert row["mse"] > 0 and row["se_per_image"] == pytest.approx(64 * row["mse"])
    row["ratio"] = 1.0
    bad = {"estimator": "Broken", "n_components": 4, "error": "ValueError: no"}
    path = tmp_path / "t.md"
    vs_pca.write_markdown(path, "digits", data, [row, bad], "python x", {"UndercompleteAE": {}})
    text = path.read_text()
    assert "| 4 | UndercompleteAE |" in text and "failed: ValueError" in text
    vs_pca.plot(tmp_path / "t.png", "digits", [row, bad])
    assert (tmp_path / "t.png").stat().st_size > 1000


def test_set_overrides_parameters_the_estimator_has(vs_pca):
    overrides = dict(
        vs_pca.parse_setting(text)
        for text in ["max_iter=7", "learning_rate=constant", "hidden_layer_sizes=(16, 8)", "lam=2"]
    )
    assert overrides == {
        "max_iter": 7,
        "learning_rate": "constant",
        "hidden_layer_sizes": (16, 8),
        "lam": 2,
    }
    model = vs_pca.make_estimator(skae.UndercompleteAE, "digits", 4, seed=0, overrides=overrides)
    params = model.get_params()
    assert (params["max_iter"], params["learning_rate"]) == (7, "constant")
    assert params["hidden_layer_sizes"] == (16, 8)
    assert "lam" not in params  # a parameter the estimator lacks is skipped
    with pytest.raises(Exception, match="name=value"):
        vs_pca.parse_setting("max_iter")


def test_profile_and_speed_count_the_same_gemm_flops():
    X = np.random.default_rng(0).uniform(size=(64, 784)).astype(np.float32)
    ae = skae.UndercompleteAE(common.CODE, hidden_layer_sizes=(common.HIDDEN,), max_iter=1).fit(X)
    per_epoch = common.gemm_gflop_per_row(profile_training.linear_layers(ae.module_)) * 60_000
    assert per_epoch == pytest.approx(common.training_gflop_per_epoch(60_000, 784))


def test_speed_benchmark_trains_skae_on_the_cpu_like_its_peers():
    # In a child process: hiding the GPUs would otherwise last for the rest of
    # this test session.  On a machine with a GPU, skae's device="auto" would
    # train there while the hand-written loops and the GEMM peak are the CPU's.
    child = (
        "import os\n"
        "from benchmarks.speed import common\n"
        "common.train_on_cpu_only()\n"
        "import numpy as np, skae\n"
        "X = np.random.default_rng(0).uniform(size=(32, 8)).astype(np.float32)\n"
        "ae = skae.UndercompleteAE(2, hidden_layer_sizes=(4,), max_iter=1).fit(X)\n"
        "print(os.environ['CUDA_VISIBLE_DEVICES'] == '', ae.device_.type)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", child],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.split() == ["True", "cpu"]


def test_gemm_timer_counts_the_products_only():
    a = torch.ones(64, 64)
    with profile_training.GemmTimer() as timer:
        torch.mm(a, a)
        torch.addmm(a, a, a)
    assert timer.seconds > 0
    with profile_training.GemmTimer() as timer:
        (a + a).relu().sum()
    assert timer.seconds == 0.0


def test_the_benchmark_observes_skae_configuration():
    # What the report says skae did is what skae did under each setting.
    assert not common.onednn_products(onednn=False)
    if torch.backends.mkldnn.is_available():
        assert common.onednn_products(onednn=True)
    digits = common.digits_unit()[:300]

    def make():
        return skae.UndercompleteAE(4, hidden_layer_sizes=(8,))

    with skae.config_context(training_threads=3):
        assert common.training_threads(make, digits) == 3
    with skae.config_context(training_threads=1):
        assert common.training_threads(make, digits) == 1


# ---------------------------------------------------------------- the speed report

RUN = {
    "command": "python -m benchmarks.speed --epochs 5",
    "quick": False,
    "date": "2026-01-01 00:00 UTC",
    "commit": "abc1234",
    "uncommitted_changes": False,
    "machine": {
        "cpu": "Test CPU",
        "vendor": "GenuineIntel",
        "architecture": "x86_64",
        "logical_cores": 2,
        "torch_threads": 2,
    },
    "versions": {
        "python": "3.11",
        "numpy": "2.0",
        "scikit-learn": "1.6",
        "torch": "2.2",
        "blas": "MKL",
        "skae": "0.1.0",
    },
    "skae_config": {"onednn": "auto", "training_threads": "auto"},
}

NET = {"hidden": 256, "code": 32, "batch": 256, "lr": 0.001}

FIGURES = {
    "train": {
        "data": "Fashion-MNIST",
        "rows": 60_000,
        "features": 784,
        "network": NET,
        "default_hidden": 1024,
        "epochs": 5,
        "repeats": 2,
        "threads": 2,
        "library": "MKL",
        "other_library": "oneDNN",
        "peak_size": 2048,
        "gemm_peak_gflops": {"torch.matmul": 400.0, "oneDNN": 380.0},
        "gflop_per_epoch": {"bench": 120.0, "defaults": 500.0},
        "step_gemm_gflops": {"bench": 300.0, "defaults": 320.0},
        "seconds_per_epoch": {
            "skae": 0.6,
            "skae_other_library": 0.75,
            "loop": 0.8,
            "loop_fused": 0.7,
            "skorch": 1.2,
            "skae_defaults": 2.0,
            "skae_logistic": 0.64,
            "loop_sigmoid": 0.8,
        },
        "skae_setup_seconds": 0.1,
    },
    "first": {
        "rows": 10_240,
        "epochs": 1,
        "repeats": 2,
        "seconds": {"skae": [0.15, 0.13], "loop_fused": [0.9, 0.11]},
    },
    "variants": {
        "data": "Fashion-MNIST",
        "rows": 60_000,
        "features": 784,
        "hidden": 256,
        "code": 32,
        "default_hidden": 1024,
        "epochs": 5,
        "repeats": 2,
        "seconds_per_epoch": {
            "UndercompleteAE": {"bench": 0.5, "defaults": 2.0},
            "SparseAE": {"bench": 0.55, "defaults": 2.2},
        },
    },
    "vae": {
        "data": "Fashion-MNIST",
        "features": 784,
        "train_rows": 50_000,
        "test_rows": 10_000,
        "network": NET,
        "epochs": 5,
        "repeats": 2,
        "skae": {"seconds_per_epoch": 0.7, "setup_seconds": 0.05, "test_elbo_per_image": -254.4},
        "loop": {"seconds_per_epoch": 0.8, "test_elbo_per_image": -255.4},
    },
    "precision": {
        "data": "Fashion-MNIST",
        "rows": 60_000,
        "features": 784,
        "test_data": "Fashion-MNIST's test images",
        "test_rows": 10_000,
        "network": {"hidden": 1024, "code": 32, "batch": 256, "lr": 0.004},
        "epochs": 5,
        "repeats": 2,
        "cpu_bfloat16": {"native": True, "flags": ["amx_bf16", "avx512_bf16"]},
        "skae_bfloat16_precision_used": "bfloat16",
        "loop_bfloat16_timed_steps": None,
        "seconds_per_epoch": {
            "skae_float32": 4.0,
            "skae_bfloat16": 2.5,
            "loop_float32": 5.0,
            "loop_bfloat16": 3.0,
        },
        "full_fit_max_iter": "auto",
        "full_fit": {
            "float32": {
                "epochs": 21,
                "seconds": 84.0,
                "precision_used": "float32",
                "test_error": 0.01,
            },
            "bfloat16": {
                "epochs": 21,
                "seconds": 52.5,
                "precision_used": "bfloat16",
                "test_error": 0.0101,
            },
        },
    },
    "transform": {
        "data": "Fashion-MNIST",
        "rows": 60_000,
        "fit_rows": 5000,
        "warm_up_rows": 1000,
        "repeats": 3,
        "rows_per_second": {
            "skae transform": 500_000.0,
            "PCA transform": 1_000_000.0,
            "skae inverse_transform": 250_000.0,
            "PCA inverse_transform": 500_000.0,
        },
    },
    "memory": {
        "rows": 1_000_000,
        "features": 784,
        "code": 32,
        "input_kib": 3_062_500,
        "codes_kib": 125_000,
        "peak_kib": {
            "before": 3_500_000,
            "transform": 3_626_000,
            "score_samples": 3_627_000,
            "inverse_transform": 3_600_000,
        },
    },
    "threads": {
        "available_threads": 2,
        "repeats": 3,
        "rule": {"multiply_adds_per_thread": 2**24, "batch_values_per_thread": 2**16},
        "problems": [
            {"name": "tie", "seconds": {"one": 0.100, "all": 0.101}, "skae_threads": 2},
            {"name": "one wins", "seconds": {"one": 0.10, "all": 0.20}, "skae_threads": 1},
            {"name": "wrong", "seconds": {"one": 0.30, "all": 0.20}, "skae_threads": 1},
        ],
    },
    "gridsearch": {
        "estimator": "SparseAE",
        "grid": {"lam": [0.1, 1.0, 10.0], "rho": [0.02, 0.05, 0.1]},
        "cv": 3,
        "n_jobs": 2,
        "repeats": 2,
        "threads": 2,
        "worker_threads": 1,
        "worker_start_seconds": 2.0,
        "problems": [
            {
                "name": "large",
                "search_seconds": {"1": 20.0, "2": 16.0},
                "one_fit_seconds": {"all_threads": 0.7, "worker_threads": 1.05},
                "fit_seconds_in_workers": 1.1,
            },
            {
                "name": "small",
                "search_seconds": {"1": 2.5, "2": 1.4},
                "one_fit_seconds": {"all_threads": 0.08, "worker_threads": 0.08},
                "fit_seconds_in_workers": 0.09,
            },
        ],
    },
}


def test_report_words_come_from_the_figures(tmp_path):
    for section, figures in FIGURES.items():
        common.write_section(tmp_path, section, figures, RUN)
    path = render.write(tmp_path)
    text = path.read_text()
    assert path == tmp_path / "speed.md"
    assert text.startswith("# skae speed benchmark")
    assert "Quick mode" not in text and "different runs" not in text
    assert "`python -m benchmarks.speed --epochs 5` at commit abc1234" in text
    for title in render.TITLES.values():
        assert f"## {title}" in text
    # Ratios and shares computed from the seconds and the FLOPs.
    assert "| skae UndercompleteAE (MKL) | 0.600 | 100,000 | 200 | 50% | 1.00x |" in text
    assert "| skae UndercompleteAE with oneDNN instead | 0.750 |" in text
    assert "| skorch NeuralNetRegressor | 1.200 | 50,000 | 100 | 25% | 2.00x |" in text
    assert "**1.25x** skae's time" in text  # 0.8 / 0.64
    assert "| SparseAE | 0.550 | 1.10 | 2.200 | 1.10 |" in text
    assert "| transform (output 1,000,000 × 32) | 123 MiB | 4.1% |" in text
    # Comparison words follow the numbers, not a fixed text.
    assert "skae's test ELBO is higher than the loop's" in text
    assert "| tie | 0.100 | 0.101 | 0.99x | 2 | either |" in text
    assert "| one wins | 0.100 | 0.200 | 0.50x | 1 | yes |" in text
    assert "| wrong | 0.300 | 0.200 | 1.50x | 1 | **no** |" in text
    assert "for 2 of 3 problems" in text
    assert "| large | 20.0 | 16.0 | **0.80** | 0.70 / 1.05 s | 0.75 | 1.10 s |" in text
    assert "with the workers' start added, 18.0 s, less than n_jobs=1's 20.0 s" in text
    assert "with the workers' start added, 3.4 s, more than n_jobs=1's 2.5 s" in text
    assert "halves" not in text
    # bfloat16: the ratios and the target from the figures.
    assert "This CPU multiplies bfloat16 natively (its flags: amx_bf16, avx512_bf16)." in text
    assert '| skae, precision="bfloat16" | 2.500 | 1.60x |' in text
    assert "| bfloat16 (bfloat16) | 21 | 0.01010 | +1.0% |" in text
    assert "**met** (1.60x, 1.0%)" in text


def test_precision_report_without_native_bfloat16(tmp_path):
    figures = dict(FIGURES["precision"])
    figures.update(
        cpu_bfloat16={"native": False, "flags": []},
        skae_bfloat16_precision_used="float32",
        loop_bfloat16_timed_steps=8,
        seconds_per_epoch={**figures["seconds_per_epoch"], "loop_bfloat16": 60.0},
        full_fit={**figures["full_fit"], "bfloat16": None},
    )
    run = {**RUN, "machine": {**RUN["machine"], "native_bfloat16": False}}
    common.write_section(tmp_path, "precision", figures, run)
    text = render.write(tmp_path).read_text()
    assert "no native bfloat16" in text.split("##")[0]  # the report's header
    assert "**This CPU has no native bfloat16**" in text
    assert "(fell back to float32)" in text
    assert "(emulated; 8 steps timed) | 60.000 | 0.08x |" in text
    assert "the float32 fit (fell back)" in text
    assert "can only be checked on a CPU with native bfloat16" in text
    assert "**met**" not in text


def test_report_of_sections_from_different_runs(tmp_path):
    quick = {**RUN, "quick": True, "commit": "def5678"}
    common.write_section(tmp_path, "first", FIGURES["first"], RUN)
    common.write_section(tmp_path, "memory", FIGURES["memory"], quick)
    text = render.render(tmp_path)
    assert "Quick mode" in text and "different runs" in text
    assert "at commit abc1234" in text and "at commit def5678" in text
    assert "## Training" not in text
    with pytest.raises(FileNotFoundError):
        render.render(tmp_path / "empty")


def test_sections_measure_and_write_json(tmp_path):
    # Tiny problems: this checks that the sections run and that their figures
    # are JSON the report can be written from, not their values.  One thread
    # (restored by conftest): a loaded machine's spinning threads would take
    # most of the test's time.
    torch.set_num_threads(1)
    X = np.random.default_rng(0).uniform(size=(300, 64)).astype(np.float32)
    measured = {
        "train": train.measure(X, "random", 1, 1, peak_size=64, peak_repeats=1, step_repeats=1),
        "variants": variants.measure(X, "random", 1, 1),
        "vae": vae.measure(X, "random", 1, 1),
        "transform": transform.measure(X, "random", repeats=1, fit_rows=300),
        "threads": threads.measure(X, "random", repeats=1, digits_epochs=1, rows=300, epochs=1),
        "precision": precision.measure(X, "random", 1, 1, full_max_iter=1, emulated_steps=1),
    }
    run = common.describe_run(["--quick"], quick=True)
    for section, figures in measured.items():
        path = common.write_section(tmp_path, section, figures, run)
        assert json.loads(path.read_text())["figures"] == figures
    assert measured["vae"]["train_rows"] == 250 and measured["vae"]["test_rows"] == 50
    assert set(measured["variants"]["seconds_per_epoch"]) == set(variants.ESTIMATORS)
    assert measured["precision"]["test_rows"] == 50
    text = render.render(tmp_path)
    assert "Quick mode" in text
    for section in measured:
        assert f"## {render.TITLES[section]}" in text


# ---------------------------------------------------------------- the sparse benchmark


def test_sparse_benchmark_generates_its_matrix_and_ranks_held_out_items():
    X = sparse.generate(400, 300, 0.03, seed=0)
    assert sp.issparse(X) and X.format == "csr" and X.dtype == np.float32
    assert set(np.unique(X.data)) == {1.0}
    assert 0.02 < X.nnz / (400 * 300) < 0.04
    np.testing.assert_array_equal(X.toarray(), sparse.generate(400, 300, 0.03, seed=0).toarray())
    given, held = sparse.split_given(X, 0.2, seed=0)
    assert (given + held - X).nnz == 0 and given.multiply(held).nnz == 0
    # A perfect score of the held-out items recalls them all; their opposite none.
    truth = held.toarray()
    assert sparse.recall_at_k(truth, given, held, 5) == 1.0
    assert sparse.recall_at_k(-truth, given, held, 5) == 0.0


def test_sparse_benchmark_quick_run_writes_its_report(tmp_path):
    # Each method is fitted in a child process of its own, as in the full run.
    sparse.main(["--quick", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "sparse.json").read_text())
    assert [r["method"] for r in result["rows"]] == [
        "item popularity (no model)",
        *sparse.METHODS,
    ]
    for row in result["rows"][1:]:
        assert row["test_mse"] > 0 and 0 <= row["recall_at_20"] <= 1
        assert row["fit_seconds"] > 0 and row["fit_peak_growth_mib"] >= 0
    large = result["large_fit"]
    assert large["users"] == sparse.LARGE_USERS["quick"] and large["epochs"] == 1
    assert large["fit_peak_growth_mib"] >= 0
    text = (tmp_path / "sparse.md").read_text()
    assert "quick: a tiny matrix" in text and "## Peak memory on more rows" in text
    assert '| UndercompleteAE(loss="bce") |' in text
