"""Settings every test and doctest shares (this file is the root of both test paths, tests/ and sklearn_hier/)."""

import os

# Tests draw without a display: matplotlib reads this when it is first imported, which is after this
# file. The package itself never picks a backend (no ``matplotlib.use`` in it nor in its examples).
os.environ["MPLBACKEND"] = "Agg"
