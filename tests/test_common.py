"""scikit-learn's own estimator checks on every public skae estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from ._estimators import public_estimators


def test_every_variant_is_discovered():
    assert "UndercompleteAE" in {cls.__name__ for cls in public_estimators()}


# Default-constructed, as a user would build them: no expected failures.
@parametrize_with_checks([cls() for cls in public_estimators()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
