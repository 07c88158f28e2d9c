"""Shared docstring paragraphs: fill_doc puts them in place, and no docstring of the package is left with a hole."""

import importlib
import inspect
import pkgutil
import re

import pytest

import sklearn_hier
from sklearn_hier._docstrings import fill_doc

PLACEHOLDER = re.compile(r"^\s*%\(\w+\)s\s*$", flags=re.MULTILINE)


def _docstrings():
    """(qualified name, docstring) of every module, class, function and method the package defines."""
    for info in pkgutil.walk_packages(sklearn_hier.__path__, "sklearn_hier."):
        module = importlib.import_module(info.name)
        yield info.name, module.__doc__
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != info.name or not (inspect.isclass(obj) or callable(obj)):
                continue
            yield f"{info.name}.{name}", obj.__doc__
            for attr, member in vars(obj).items() if inspect.isclass(obj) else ():
                function = getattr(member, "__func__", member)
                if callable(function):
                    yield f"{info.name}.{name}.{attr}", function.__doc__


def test_no_docstring_keeps_a_placeholder():
    holes = [name for name, doc in _docstrings() if doc and PLACEHOLDER.search(doc)]
    assert holes == [], "a docstring names a shared paragraph but its object is not decorated with fill_doc"


def test_fill_doc_fills_a_class_and_its_methods_indented_as_the_placeholder():
    @fill_doc(part="first line\n    second line")
    class Thing:
        """Thing.

        %(part)s
        """

        @classmethod
        def make(cls):
            """Make.

            Parameters
            ----------
            %(part)s
            """

    assert "\n        first line\n            second line\n" in Thing.__doc__
    assert "\n            first line\n                second line\n" in Thing.make.__doc__


def test_fill_doc_refuses_a_paragraph_it_was_not_given():
    with pytest.raises(KeyError, match="missing"):

        @fill_doc(part="text")
        def function():
            """%(part)s

            %(missing)s
            """
