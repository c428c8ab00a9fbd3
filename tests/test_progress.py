"""verbose: a progress bar over epochs at 1, per-epoch log records at 2, silence at 0."""

import logging
import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from skae import UndercompleteAE


def fit(X, **params):
    est = UndercompleteAE(4, hidden_layer_sizes=(16,), max_iter=3, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


def test_verbose_0_is_silent(digits, capsys, caplog):
    caplog.set_level(logging.DEBUG, logger="skae")
    fit(digits[0], verbose=0, early_stopping=True)
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    assert caplog.records == []


def test_verbose_1_shows_a_bar_with_loss_and_validation_score(digits, capsys):
    est = fit(digits[0], verbose=1, early_stopping=True)
    out, err = capsys.readouterr()
    assert out == ""  # the bar goes to stderr, stdout stays clean for the user
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("UndercompleteAE: 3/3 epochs |")
    assert f"loss={est.loss_curve_[-1]:.5g}" in final
    # An old tqdm may cut the postfix at its default width: what is shown is a
    # prefix of the score's text.
    shown = final[final.index("val_score") :].rstrip("]")
    assert f"val_score={est.validation_scores_[-1]:.5g}".startswith(shown)


def test_verbose_1_without_validation_shows_only_the_loss(digits, capsys):
    fit(digits[0], verbose=1)
    _, err = capsys.readouterr()
    assert "loss=" in err and "val_score" not in err


def test_verbose_2_logs_every_epoch(digits, capsys, caplog):
    caplog.set_level(logging.INFO, logger="skae")
    est = fit(digits[0], verbose=2, early_stopping=True)
    epochs = [r for r in caplog.records if r.name == "skae" and "epoch" in r.getMessage()]
    assert len(epochs) == est.n_iter_ == 3
    assert "val_score" in epochs[-1].getMessage()
    assert capsys.readouterr().out == ""


def test_partial_fit_bars_are_cleared(digits, capsys):
    est = UndercompleteAE(4, hidden_layer_sizes=(16,), random_state=0, verbose=1)
    for chunk in (digits[0][:500], digits[0][500:1000]):
        est.partial_fit(chunk)
    _, err = capsys.readouterr()
    # tqdm redraws a cleared bar as blanks: nothing is left on the last line.
    assert err.replace("\r", "\n").splitlines()[-1].strip() == ""


@pytest.mark.parametrize("verbose", [0, 1])
def test_convergence_warning_goes_through_warnings(digits, verbose):
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        UndercompleteAE(
            4,
            hidden_layer_sizes=(16,),
            max_iter=2,
            learning_rate="constant",
            random_state=0,
            verbose=verbose,
        ).fit(digits[0])
