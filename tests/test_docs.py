"""Every public estimator documents the parameters its signature and its
constraints declare, in the same order, and its shared entries agree."""

import inspect
import math

import pytest
from numpydoc.docscrape import ClassDoc

from skae._docs import PARAMETERS, fill_docstring

from ._estimators import public_estimators

ESTIMATORS = public_estimators()
IDS = [cls.__name__ for cls in ESTIMATORS]


def _signature_names(cls):
    return [n for n in inspect.signature(cls.__init__).parameters if n != "self"]


def _documented(cls):
    return ClassDoc(cls, config={"show_class_members": False})["Parameters"]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_signature_constraints_and_docstring_name_the_same_parameters(cls):
    names = _signature_names(cls)
    assert list(cls._parameter_constraints) == names
    assert [p.name for p in _documented(cls)] == names


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_documented_defaults_are_the_signatures(cls):
    defaults = {n: p.default for n, p in inspect.signature(cls.__init__).parameters.items()}
    for param in _documented(cls):
        _, _, default = param.type.partition("default=")
        expected = defaults[param.name]
        shown = f'"{expected}"' if isinstance(expected, str) else repr(expected)
        if isinstance(expected, float) and math.isnan(expected):
            shown = "np.nan"  # scikit-learn's spelling of a NaN default
        assert default == shown, (param.name, default)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_no_placeholder_is_left_unfilled(cls):
    assert "{training_parameters}" not in cls.__doc__
    assert "{fitted_attributes}" not in cls.__doc__
    for name in PARAMETERS:
        assert f"{{{name}}}" not in cls.__doc__


def test_a_parameter_without_a_constraint_is_refused_when_the_class_is_made():
    from skae._base import BaseAutoencoder

    with pytest.raises(TypeError, match="have no constraint"):

        class Unconstrained(BaseAutoencoder):
            def __init__(self, n_components=None, *, extra=1):
                pass


def test_an_unknown_placeholder_is_an_error():
    class Documented:
        """Parameters
        ----------
        {no_such_parameter}
        """

        def __init__(self, no_such_parameter=1):
            pass

    with pytest.raises(ValueError, match="no_such_parameter"):
        fill_docstring(Documented)


def test_a_shared_entry_takes_the_classs_default():
    class Documented:
        """Parameters
        ----------
        {batch_size}
        """

        def __init__(self, batch_size=64):
            pass

    assert 'batch_size : int or "auto", default=64' in fill_docstring(Documented)
