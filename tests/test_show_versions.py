"""describe_environment lives in a leaf module that the CLI and the comparison run can both import."""

import ast
import inspect

from sklearn_hier import _show_versions, cli
from sklearn_hier._show_versions import describe_environment


def test_describe_environment_names_python_packages_and_device():
    info = describe_environment()
    assert {"python", "numpy", "torch", "scikit-learn", "device"} <= set(info)
    assert all(isinstance(value, str) and value for value in info.values())


def test_show_versions_imports_nothing_from_the_package():
    tree = ast.parse(inspect.getsource(_show_versions))
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name and name.startswith("sklearn_hier")]


def test_cli_serves_the_same_function():
    assert cli.describe_environment is describe_environment


def test_show_versions_is_public_and_prints_what_info_prints(capsys):
    import sklearn_hier

    assert "show_versions" in sklearn_hier.__all__
    sklearn_hier.show_versions()
    printed = capsys.readouterr().out
    assert printed.startswith("\nSystem:\n") and "\nPython dependencies:\n" in printed
    for key, value in describe_environment().items():
        if key != "python":
            assert f"{key}: {value}" in printed
