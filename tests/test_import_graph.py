"""The package's import graph: no cycle between modules, no module imports from a layer above its own,
and no module imports another module's private names."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_hier"

# Lower layers never import higher ones (lazy imports inside functions included).
LAYERS = [
    {
        "sklearn_hier.taxonomy",
        "sklearn_hier._decision",
        "sklearn_hier._device",
        "sklearn_hier._docstrings",
        "sklearn_hier._progress",
        "sklearn_hier._show_versions",
        "sklearn_hier._tensor_input",
        "sklearn_hier._version",
        "sklearn_hier._warnings",
    },
    {
        "sklearn_hier.nn",
        "sklearn_hier.audio",
        "sklearn_hier.metrics",
        "sklearn_hier.model_selection",
        "sklearn_hier.stats",
    },
    {
        "sklearn_hier.datasets",
        "sklearn_hier._data",
        "sklearn_hier._batches",
        "sklearn_hier._net",
        "sklearn_hier._validation",
        "sklearn_hier._build",
        "sklearn_hier._plan",
        "sklearn_hier.embedder",
    },
    {"sklearn_hier.plotting", "sklearn_hier.experiments", "sklearn_hier.cli", "sklearn_hier"},
]


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path) for path in PACKAGE.rglob("*.py")}


def _imports(path):
    """(module-level, all) names imported by the module at ``path``: sklearn_hier modules and third-party roots.

    ``from sklearn_hier import _net`` imports the module ``sklearn_hier._net``, not the package's namespace.
    """
    tree = ast.parse(path.read_text())
    top, every = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            names = (submodules & MODULES) | ({node.module} if submodules - MODULES else set())
        elif isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        else:
            continue
        every |= names
        if node in tree.body:
            top |= names
    return top, every


GRAPH = {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _is_private(name):
    """A name a module keeps to itself: one leading underscore (``__version__`` and other dunders are public)."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _inside(module, package):
    return module == package or module.startswith(package + ".")


def _private_imports(module, path):
    """What ``module`` imports of another module's privates, lazy imports included, as ``line: statement``.

    Forbidden: a private name of another module (``from sklearn_hier.plotting import _finite_stat``), and a
    private submodule as a name from outside its package (``from sklearn_hier.datasets import _soundfont``,
    ``import sklearn_hier.datasets._soundfont``): a package's private submodules are its own business. Allowed:
    a package and its modules importing the package's private submodules (``sklearn_hier/audio/__init__.py``:
    ``from sklearn_hier.audio import _torch_mel``), and a public name from a private module
    (``from sklearn_hier.experiments._pairs import FILE_DATASETS``), which is how packages here re-export.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            if not _inside(source, "sklearn_hier"):
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                own = submodule in MODULES and _inside(module, source)
                if _is_private(alias.name) and not own:
                    found.append(f"{node.lineno}: from {source} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                owners = [".".join(parts[:i]) for i, part in enumerate(parts) if _is_private(part)]
                if parts[0] == "sklearn_hier" and any(not _inside(module, owner) for owner in owners):
                    found.append(f"{node.lineno}: import {alias.name}")
    return found


def _layer(module):
    if module == "sklearn_hier":
        return len(LAYERS) - 1
    for depth, layer in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in layer - {"sklearn_hier"}):
            return depth
    return None


def test_every_module_has_a_layer():
    assert [module for module in GRAPH if _layer(module) is None] == [], "add the module to LAYERS"


def test_no_import_cycle_between_modules():
    edges = {m: {t for t in top if t in GRAPH and t != m} for m, (top, _) in GRAPH.items()}
    # A package's __init__ re-exports its own submodules; that is not a cycle through the package.
    edges = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in edges.items()}
    state = {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(edges[module]):
            assert state.get(target) != "open", "import cycle: " + " -> ".join([*path, target])
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_upward_import(module):
    _, every = GRAPH[module]
    upward = sorted(t for t in every if t.startswith("sklearn_hier") and (_layer(t) or 0) > _layer(module))
    assert not upward, f"{module} imports from a higher layer: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("sklearn_hier.nn")))
def test_nn_is_pure_pytorch(module):
    _, every = GRAPH[module]
    foreign = sorted(t for t in every if t.split(".")[0] in {"sklearn", "skorch"})
    inside = sorted(t for t in every if t.startswith("sklearn_hier") and not t.startswith("sklearn_hier.nn"))
    assert not foreign and set(inside) <= {"sklearn_hier.taxonomy"}, (foreign, inside)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("sklearn_hier.metrics")))
def test_metrics_know_nothing_of_skorch(module):
    _, every = GRAPH[module]
    assert not any(t.split(".")[0] == "skorch" for t in every)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_private_cross_module_import(module):
    path = PACKAGE.parent.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    private = _private_imports(module, path)
    assert not private, f"{module} imports private names of other modules (give them a public name): {private}"
