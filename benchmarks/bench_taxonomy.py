"""Time Taxonomy.level_codes on 1M labels and lca_depth_matrix on 1k x 1k leaves.

Compared, in the same run, with what a user would write without the library: a
per-label Python loop over path strings (level codes) and a double loop over
leaf pairs (LCA depth), the latter timed on a 200 x 200 slice and scaled.

Run: python benchmarks/bench_taxonomy.py
"""

import platform

import numpy as np
from _timing import best_of

from sklearn_hier.taxonomy import Taxonomy


def orchidea_like_leaves():
    # 5 families x 4 instruments x 3 mutes x 10 techniques = 600 leaves, depth 4
    return [f"F{f}/I{f}{i}/M{m}/T{t}" for f in range(5) for i in range(4) for m in range(3) for t in range(10)]


def naive_level_codes(labels, tax):
    index = {key: i for level in tax.levels for i, key in enumerate(level)}
    out = np.full((len(labels), tax.depth), -1, dtype=np.int64)
    for row, label in enumerate(labels):
        names = label.split("/")
        for d in range(len(names)):
            out[row, d] = index["/".join(names[: d + 1])]
    return out


def naive_lca_depth(a, b):
    out = np.zeros((len(a), len(b)), dtype=np.int64)
    for i, x in enumerate(a):
        px = x.split("/")
        for j, z in enumerate(b):
            pz = z.split("/")
            n = 0
            while n < min(len(px), len(pz)) and px[n] == pz[n]:
                n += 1
            out[i, j] = n
    return out


def main():
    rng = np.random.default_rng(0)
    leaves = orchidea_like_leaves()
    tax = Taxonomy.from_paths(leaves)
    labels = np.asarray(leaves, dtype=object)[rng.integers(0, len(leaves), 1_000_000)]
    pairs = np.asarray(leaves, dtype=object)[rng.integers(0, len(leaves), 1000)]

    ours_codes = best_of(lambda: tax.level_codes(labels))
    naive_codes = best_of(lambda: naive_level_codes(labels[:100_000], tax), repeat=1) * 10
    ours_lca = best_of(lambda: tax.lca_depth_matrix(pairs, pairs))
    naive_lca = best_of(lambda: naive_lca_depth(pairs[:200], pairs[:200]), repeat=1) * 25
    np.testing.assert_array_equal(tax.level_codes(labels[:1000]), naive_level_codes(labels[:1000], tax))
    np.testing.assert_array_equal(tax.lca_depth_matrix(pairs[:50], pairs), naive_lca_depth(pairs[:50], pairs))

    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; taxonomy {tax!r}")
    print(f"{'operation':<32}{'ours (s)':>10}{'naive loop (s)':>16}{'speed-up':>10}")
    print(f"{'level_codes, 1M labels':<32}{ours_codes:>10.3f}{naive_codes:>16.2f}{naive_codes / ours_codes:>9.1f}x")
    print(f"{'lca_depth_matrix, 1k x 1k':<32}{ours_lca:>10.3f}{naive_lca:>16.2f}{naive_lca / ours_lca:>9.1f}x")


if __name__ == "__main__":
    main()
