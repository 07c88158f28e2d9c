"""
===========================================
Multi-label clips: from waveforms to scores
===========================================

A clip of an orchestra sounds several instruments at once: its label is a
*set* of paths. This example fits :class:`~sklearn_hier.HierarchicalEmbedder`
on such label sets, from the waveforms of polyphonic soundfont mixtures,
cross-validates it with :class:`~sklearn_hier.model_selection.UnseenLabelKFold`
(each fold hides some labels from training) and
:func:`~sklearn_hier.hierarchy_scorers`, then compares the label sets it
predicts with the true ones.

It runs in well under a minute on a laptop CPU: short clips at 8 kHz, small
mel spectrograms, a small ConvModel and few epochs. The scores are those of
such a short fit, not of the method at its best.
"""

# %%
# Data: mixtures labelled with label sets
# ---------------------------------------
# :func:`~sklearn_hier.datasets.load_soundfont_mixtures` mixes single notes of
# the General MIDI soundfont shipped with ``pretty_midi`` (rendered once,
# offline). Two instruments in each of three families, two techniques each,
# make a tree of 12 leaves ``family/instrument/technique``; each clip sounds
# one note or two notes of different instruments.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline

from sklearn_hier import HierarchicalEmbedder, MelTransformer, hierarchy_scorers
from sklearn_hier.datasets import load_soundfont_mixtures
from sklearn_hier.metrics import hierarchical_ndcg_score
from sklearn_hier.model_selection import UnseenLabelKFold
from sklearn_hier.plotting import MetricComparisonDisplay

mixtures = load_soundfont_mixtures(
    programs=[40, 42, 56, 57, 72, 73],
    techniques=["ordinario", "staccato"],
    n_clips=360,
    n_notes=(1, 2),
    distinct="instrument",
    n_per_leaf=6,
    sr=8000,
    duration=0.5,
    verbose=0,
)
X, y = mixtures.data, list(mixtures.target)
print(mixtures.taxonomy.render())
print(f"{len(y)} clips; labels per clip: {np.bincount([len(labels) for labels in y])[1:]} (1, 2)")
print("first clips:", [sorted(labels) for labels in y[:3]])

# %%
# The pipeline
# ------------
# :class:`~sklearn_hier.MelTransformer` turns the waveforms into dB mel
# spectrograms. On label sets, the per-level term ``"PL"`` trains independent
# sigmoids per level on each clip's ancestor closure (a trumpet-and-violin clip
# is both ``Brass`` and ``Strings`` at level 1), and the triplet term ``"T"``
# takes triplets mined in each batch: an anchor shares more closure nodes with
# its positive than with its negative. The paper's offline tree sampler
# (``triplets="tree"``) draws one leaf per clip, so it is refused here.
pipe = Pipeline(
    [
        ("mel", MelTransformer(sr=8000, n_fft=512, hop_length=128, n_mels=32, device="cpu")),
        (
            "emb",
            HierarchicalEmbedder(
                losses="PL+T",
                triplets="semi_hard",
                embedding_dim=32,
                module__channels=16,
                module__n_blocks=3,
                lr=3e-3,
                max_epochs=30,
                device="cpu",
                random_state=0,
                verbose=0,
            ),
        ),
    ]
)

# %%
# Cross-validation over unseen labels
# -----------------------------------
# Each of the 3 folds hides a third of the 12 leaf labels: every clip carrying
# a hidden label is a test clip (*unseen*), and a share of the clips of the
# other labels is held out too (*seen* test clips): ``test_size`` of the clips
# that carry no hidden label. On mixtures most test clips are unseen;
# ``test_size=0.25`` keeps a few dozen seen test clips per fold, enough for RP@3.
#
# On label sets the scorers read:
#
# - MNR, NDCG and RP@k: retrieval among the test clips, relevance from the
#   overlap of two clips' closures;
# - the F1s: the per-level macro F1 of ``predict_label_sets`` on the seen
#   clips, on the closures' nodes at each level
#   (:func:`~sklearn_hier.metrics.multilabel_level_f1_score`);
# - ``lsa_accuracy_blind``: for each unseen label of a clip, whether the
#   predicted set names its lowest seen ancestor (a hidden trumpet technique
#   should be recognised as ``Brass/Trumpet``), see
#   :func:`~sklearn_hier.metrics.multilabel_lsa_accuracy`.
#
# ``lsa_accuracy_aware`` (one node per level from a per-level head) has no
# label-set form and is left out.
scoring = {name: scorer for name, scorer in hierarchy_scorers(k=3).items() if name != "lsa_accuracy_aware"}
cv = UnseenLabelKFold(n_splits=3, min_samples_leaf=10, test_size=0.25, random_state=0)
results = cross_validate(pipe, X, y, cv=cv, scoring=scoring, return_estimator=True, return_indices=True)

print(f"{'score':<34} {'mean':>6} {'std':>6}")
for name in scoring:
    values = results[f"test_{name}"]
    print(f"{name:<34} {np.mean(values):6.3f} {np.std(values):6.3f}")

# %%
# For scale: the NDCG of random embeddings on the first fold's seen test clips.
model, test = results["estimator"][0], results["indices"]["test"][0]
seen_nodes = set(model[-1].taxonomy_.nodes)
seen = [i for i in test if y[i] <= seen_nodes]
random_Z = np.random.default_rng(0).normal(size=(len(seen), 32))
print(f"fold 0: {len(seen)} seen and {len(test) - len(seen)} unseen test clips")
print(f"NDCG of random embeddings: {hierarchical_ndcg_score(random_Z, [y[i] for i in seen]):.3f}")

# %%
# The scores, fold means and spreads
# ----------------------------------
MetricComparisonDisplay.from_cv_results(
    results,
    metrics=["neg_mean_normalized_rank", "ndcg", "ndcg_unseen", "f1_macro_mean", "lsa_accuracy_blind"],
    labels=["PL+T"],
)

# %%
# Predicted label sets
# --------------------
# ``predict_label_sets`` returns one frozenset of node keys per clip (possibly
# empty): the training labels whose probability is at least ``threshold_``
# (tuned on the fit's validation clips, ``threshold="auto"``). A Pipeline
# does not pass the method on, so the mels of the first step feed the
# embedder. For the first fold's model, a few seen and unseen test clips: an
# unseen clip's hidden label cannot be predicted, only its seen ancestors.
#
# This is why ``lsa_accuracy_blind`` is low here. The training labels are
# leaves, so a predicted set can name ``Strings/Violin`` only through a seen
# violin technique; a model that rightly finds a hidden violin technique unlike
# the seen one names no violin at all. (With one label per clip, the predicted
# leaf is an argmax, always some leaf, and walking it up is often right.)
unseen = [i for i in test if not y[i] <= seen_nodes]
shown = seen[:3] + unseen[:3]
predicted = model[-1].predict_label_sets(model[:-1].transform(X[shown]))
for i, labels in zip(shown, predicted, strict=True):
    kind = "seen  " if i in seen else "unseen"
    print(f"{kind} true {sorted(y[i])}\n       predicted {sorted(labels)}")
plt.show()
