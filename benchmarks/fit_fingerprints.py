"""Fingerprints of fitted models: embeddings, probabilities and losses of ten fixed-seed fits, to compare commits.

Fits HierarchicalEmbedder on small fixed data in ten configurations (tree and mined triplets,
balanced class weights, HXE+SOFT, dot and Euclidean metrics, the Poincaré ball with fixed and
learned curvature, the ConvModel), each for 4 epochs and then one ``partial_fit``, on the CPU, and
saves every embedding, probability and per-epoch loss. Run it on two commits and compare:

    python benchmarks/fit_fingerprints.py before.npz          # on the old commit
    python benchmarks/fit_fingerprints.py after.npz --compare before.npz

The comparison prints how many arrays are bit-identical (``numpy.array_equal``) and, for any
other, its largest difference. This is how the core redesign of issue 23 was checked (39 of 39
arrays identical; docs/performance.md).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from sklearn_hier import HierarchicalEmbedder

CONFIGS = {
    "PL+T": dict(losses="PL+T"),
    "L": dict(losses="L"),
    "PL+B+T_bal": dict(losses="PL+B+T", class_weight="balanced"),
    "HXE+SOFT": dict(losses="HXE+SOFT"),
    "L+T_hard": dict(losses="L+T", triplets="batch_hard"),
    "L+T_semi_euc": dict(losses="L+T", triplets="semi_hard", metric="euclidean"),
    "PL+T_poinc": dict(losses="PL+T", geometry="poincare"),
    "PL+T_poinc_learn": dict(losses="PL+T", geometry="poincare", geometry__learn_curvature=True),
    "T_dot": dict(losses="T", metric="dot"),
    "PL+T_conv": dict(losses="PL+T", conv=True),
}


def fingerprints() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    leaves = ["a/x/1", "a/x/2", "a/y/1", "b/z/1", "b/z/2", "b/w"]
    y = np.repeat(leaves, 8)
    X = rng.normal(size=(len(y), 6)).astype(np.float32) + np.repeat(np.arange(6), 8)[:, None] * 0.3
    mels = rng.normal(size=(len(y), 8, 5)).astype(np.float32)
    out = {}
    for name, config in CONFIGS.items():
        params = dict(config)
        conv = params.pop("conv", False)
        backbone = dict(module__channels=4, module__n_blocks=2) if conv else dict(module__hidden=(16,))
        emb = HierarchicalEmbedder(
            embedding_dim=5,
            triplets_per_batch=4,
            max_epochs=4,
            lr=1e-2,
            random_state=3,
            verbose=0,
            device="cpu",
            **backbone,
            **params,
        )
        data = mels if conv else X
        emb.fit(data, y)
        out[name + "_Z"] = emb.transform(data)
        if params.get("losses") != "T":
            out[name + "_P"] = emb.predict_proba(data)
        rows = [(r["train_loss"], r.get("valid_loss", 0.0)) for r in emb.history_]
        out[name + "_loss"] = np.array(rows, dtype=np.float64)
        emb.partial_fit(data, y)
        out[name + "_Z2"] = emb.transform(data)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="where to save the arrays (.npz)")
    parser.add_argument("--compare", default=None, help="an .npz saved by this script on another commit")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arrays = fingerprints()
    np.savez(args.out, **arrays)
    print(f"saved {len(arrays)} arrays to {args.out}")
    if args.compare:
        other = np.load(args.compare)
        same = [k for k in arrays if k in other.files and np.array_equal(arrays[k], other[k])]
        print(f"{len(same)} of {len(arrays)} arrays bit-identical to {args.compare}")
        for key in sorted(set(arrays) - set(same)):
            diff = np.abs(arrays[key] - other[key]).max() if key in other.files else "absent"
            print(f"  {key}: largest difference {diff}")


if __name__ == "__main__":
    main()
