"""How large the predicted label sets of ``mixtures-cpu/`` are: the tuned threshold, set sizes against the truth.

Refits three configurations of the quick mixtures comparison on its fold 0 (the settings of
``CompareSettings.quick_settings(dataset="mixtures")``, the pipeline and folds of ``compare``) and
prints, for the seen test clips, each fit's ``threshold_``, the mean size of the predicted sets
and of the true ones. About a minute on a 2-core CPU once the mixtures are rendered (the first
call renders them, a few seconds).

Run from the repository root: ``python benchmarks/mixtures_set_sizes.py``.
"""

import numpy as np

from sklearn_hier.experiments import CompareSettings
from sklearn_hier.experiments._pairs import make_pipeline, prepared

CONFIGS = ("L", "PL", "PL+B")


def main() -> None:
    settings = CompareSettings.quick_settings(dataset="mixtures")
    X, y, splits = prepared(settings)
    train, test = splits[0]
    print(f"fold 0: {len(train)} training clips; true labels per clip {np.mean([len(s) for s in y[train]]):.2f}")
    print(f"{'config':<6} {'threshold_':>10} {'predicted per seen test clip':>29} {'true':>6}")
    for config in CONFIGS:
        pipe = make_pipeline(settings, config).fit(X[train], y[train])
        embedder = pipe[-1]
        classes = set(embedder.classes_.tolist())
        seen = [i for i in test if y[i] <= classes]
        # A Pipeline forwards only the methods it knows: the features, then the embedder's own method.
        predicted = embedder.predict_label_sets(pipe[:-1].transform(X[seen]))
        sizes = np.mean([len(s) for s in predicted])
        true = np.mean([len(y[i]) for i in seen])
        print(f"{config:<6} {embedder.threshold_:>10.2f} {sizes:>29.2f} {true:>6.2f}")


if __name__ == "__main__":
    main()
