"""The benchmark scripts' own logic: kNN protocol, estimator discovery, timing helpers."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier

import skae

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


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profile_and_speed_count_the_same_gemm_flops():
    speed, profile = _load_script("speed"), _load_script("profile_training")
    X = np.random.default_rng(0).uniform(size=(64, 784)).astype(np.float32)
    ae = skae.UndercompleteAE(speed.CODE, hidden_layer_sizes=(speed.HIDDEN,), max_iter=1).fit(X)
    per_epoch = speed.gemm_gflop_per_row(profile.linear_layers(ae.module_)) * 60_000
    assert per_epoch == pytest.approx(speed.training_gflop_per_epoch(60_000, 784))


def test_speed_benchmark_trains_skae_on_the_cpu_like_its_peers():
    # In a child process: hiding the GPUs would otherwise last for the rest of
    # this test session.  On a machine with a GPU, skae's device="auto" would
    # train there while the hand-written loops and the GEMM peak are the CPU's.
    script = str(ROOT / "benchmarks" / "speed.py")
    child = (
        "import importlib.util, os\n"
        f"spec = importlib.util.spec_from_file_location('speed', {script!r})\n"
        "speed = importlib.util.module_from_spec(spec); spec.loader.exec_module(speed)\n"
        "speed.train_on_cpu_only()\n"
        "import numpy as np, skae\n"
        "X = np.random.default_rng(0).uniform(size=(32, 8)).astype(np.float32)\n"
        "ae = skae.UndercompleteAE(2, hidden_layer_sizes=(4,), max_iter=1).fit(X)\n"
        "print(os.environ['CUDA_VISIBLE_DEVICES'] == '', ae.device_.type)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split() == ["True", "cpu"]


def test_gemm_timer_counts_the_products_only():
    profile = _load_script("profile_training")
    a = torch.ones(64, 64)
    with profile.GemmTimer() as timer:
        torch.mm(a, a)
        torch.addmm(a, a, a)
    assert timer.seconds > 0
    with profile.GemmTimer() as timer:
        (a + a).relu().sum()
    assert timer.seconds == 0.0
