"""scikit-learn's estimator checks on every public estimator, in one place.

A check may be listed as expected to fail only with a one-line reason, here.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_hier.audio import AudioLoader, MelTransformer
from sklearn_hier.embedder import HierarchicalEmbedder

# Each entry: estimator instance -> {check name: why it cannot pass}.
ESTIMATORS = {
    # Its tags declare file-path input (not 2-D arrays), so sklearn runs only the clone check on it;
    # tests/test_audio.py runs the data-free API checks.
    AudioLoader: (AudioLoader(), {}),
    MelTransformer: (MelTransformer(sr=8000, n_fft=64, hop_length=16, n_mels=8, backend="torch", device="cpu"), {}),
    # Default parameters but the epochs and the device; no check is expected to fail (float32
    # subset invariance holds because inference runs on fixed-size batches).
    HierarchicalEmbedder: (HierarchicalEmbedder(max_epochs=2, device="cpu", random_state=0, verbose=0), {}),
}
# The same checks on the configuration sklearn's check_estimator is usually run with.
# And on the Poincaré ball (its own map, metric and fitted curvature).
EXTRA_INSTANCES = [
    HierarchicalEmbedder(losses="PL", max_epochs=2, device="cpu", random_state=0, verbose=0),
    HierarchicalEmbedder(geometry="poincare", max_epochs=2, device="cpu", random_state=0, verbose=0),
]


def _expected_failed_checks(estimator):
    return ESTIMATORS[type(estimator)][1]


@parametrize_with_checks(
    [instance for instance, _ in ESTIMATORS.values()] + EXTRA_INSTANCES,
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
