"""skae's configuration: set_config for the process, config_context for a block of
one thread, get_config to read, and the environment variable's default."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import skae
from skae import _config


@pytest.fixture(autouse=True)
def restore_the_process_settings():
    before = skae.get_config()
    yield
    skae.set_config(**before)


def _in_another_thread(function):
    """``function()``'s result, called in a new thread."""
    result = []
    thread = threading.Thread(target=lambda: result.append(function()))
    thread.start()
    thread.join()
    return result[0]


def test_the_defaults_without_the_environment_variable():
    env = {k: v for k, v in os.environ.items() if k != "SKAE_ONEDNN"}
    code = "import skae; print(sorted(skae.get_config().items()))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[('onednn', 'auto'), ('training_threads', 'auto')]"


def test_get_config_returns_a_copy():
    config = skae.get_config()
    config["onednn"] = "changed"
    assert skae.get_config()["onednn"] != "changed"
    assert set(config) == {"onednn", "training_threads"}


def test_set_config_changes_the_setting_of_every_thread():
    skae.set_config(onednn=False, training_threads=3)
    assert skae.get_config() == {"onednn": False, "training_threads": 3}
    assert _in_another_thread(skae.get_config) == {"onednn": False, "training_threads": 3}
    skae.set_config(training_threads="auto")  # None: onednn unchanged
    assert skae.get_config() == {"onednn": False, "training_threads": "auto"}


def test_config_context_changes_the_calling_thread_for_its_block():
    skae.set_config(onednn="auto", training_threads="auto")
    with skae.config_context(onednn=True):
        assert skae.get_config() == {"onednn": True, "training_threads": "auto"}
        assert _config.setting("onednn") is True
        assert _in_another_thread(skae.get_config)["onednn"] == "auto"
        with skae.config_context(training_threads=2, onednn=False):
            assert skae.get_config() == {"onednn": False, "training_threads": 2}
        assert skae.get_config() == {"onednn": True, "training_threads": "auto"}
    assert skae.get_config() == {"onednn": "auto", "training_threads": "auto"}


def test_config_context_restores_the_settings_after_an_exception():
    with pytest.raises(KeyError), skae.config_context(training_threads=1):
        raise KeyError("in the block")
    assert skae.get_config()["training_threads"] == "auto"


def test_a_context_in_another_thread_does_not_reach_this_one():
    inside = threading.Event()
    leave = threading.Event()
    seen = []

    def worker():
        with skae.config_context(training_threads=7):
            seen.append(skae.get_config()["training_threads"])
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(10)
    try:
        assert seen == [7]
        assert skae.get_config()["training_threads"] == "auto"
    finally:
        leave.set()
        thread.join()


def test_set_config_inside_a_context_shows_after_the_block():
    with skae.config_context(training_threads=2):
        skae.set_config(training_threads=4)
        assert skae.get_config()["training_threads"] == 2
    assert skae.get_config()["training_threads"] == 4


@pytest.mark.parametrize(
    "settings",
    [
        {"onednn": "yes"},
        {"onednn": 1},
        {"onednn": "AUTO"},
        {"training_threads": 0},
        {"training_threads": -2},
        {"training_threads": 1.5},
        {"training_threads": True},
        {"training_threads": "all"},
        {"onednn": True, "training_threads": 0},  # one bad value: nothing changes
    ],
)
def test_bad_values_are_refused_and_change_nothing(settings):
    before = skae.get_config()
    with pytest.raises(ValueError, match="onednn|training_threads"):
        skae.set_config(**settings)
    with pytest.raises(ValueError):
        with skae.config_context(**settings):
            pass  # pragma: no cover
    assert skae.get_config() == before


def test_integers_of_numpy_are_thread_counts():
    with skae.config_context(training_threads=np.int64(2)):
        assert skae.get_config()["training_threads"] == 2


@pytest.mark.parametrize(
    "value, expected",
    [("0", False), ("1", True), ("auto", "auto"), ("", "auto"), (" Auto ", "auto")],
)
def test_the_environment_variable_is_the_onednn_default(value, expected, monkeypatch):
    monkeypatch.setenv("SKAE_ONEDNN", value)
    assert _config._onednn_from_environment() == expected


def test_an_unknown_environment_value_warns_and_means_auto(monkeypatch):
    monkeypatch.setenv("SKAE_ONEDNN", "sometimes")
    with pytest.warns(RuntimeWarning, match="SKAE_ONEDNN='sometimes'"):
        assert _config._onednn_from_environment() == "auto"


def test_the_public_names():
    for name in ("config_context", "get_config", "set_config", "show_config"):
        assert name in skae.__all__ and callable(getattr(skae, name))


# -------------------------------------------------------- show_config


def test_show_config_prints_versions_device_and_fast_paths(capsys):
    assert skae.show_config() is None
    printed = capsys.readouterr().out
    import sklearn
    import torch

    for expected in (
        f"numpy: {np.__version__}",
        f"scikit-learn: {sklearn.__version__}",
        f"torch: {torch.__version__}",
        f"skae: {skae.__version__}",
        "python: ",
        "cuda available: ",
        "fused Adam kernel: ",
        "oneDNN products active: ",
        "blas: ",
        "torch._fused_adam_",
    ):
        assert expected in printed


def test_show_config_as_dicts_tells_the_fast_paths_in_use():
    from skae import _compat, _linear

    info = skae.show_config(mode="dicts")
    assert set(info) >= {"System", "Python dependencies", "Device", "Settings", "Fast paths"}
    assert info["Settings"] == skae.get_config()
    fast = info["Fast paths"]
    assert fast["fused Adam kernel"] is _compat.fused_adam_available()
    assert fast["oneDNN self-check"] is _compat.onednn_available()
    assert fast["oneDNN chosen for this CPU"] is _linear.onednn_by_default_here()
    with skae.config_context(onednn=False):
        assert not skae.show_config(mode="dicts")["Fast paths"]["oneDNN products active"]
    with skae.config_context(onednn=True):
        active = skae.show_config(mode="dicts")["Fast paths"]["oneDNN products active"]
        assert active is _compat.onednn_available()
    device = info["Device"]
    assert device["cuda available"] in (True, False)
    assert device["native bfloat16"] in (True, False, None)
    assert isinstance(device["blas"], str) and device["blas"]


def test_show_config_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        skae.show_config(mode="json")
