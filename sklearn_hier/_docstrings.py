"""Docstring paragraphs that several public functions share, written once.

A docstring names a shared paragraph on a line of its own, ``%(name)s``, and
:func:`fill_doc` puts the paragraph there, indented as that line was. What a
reader sees (``help()``, the API reference) and what doctest runs is the
whole text; the source keeps one copy of each paragraph.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from typing import TypeVar

__all__ = ["fill_doc"]

_PLACEHOLDER = re.compile(r"^([ \t]*)%\((\w+)\)s[ \t]*$", flags=re.MULTILINE)

T = TypeVar("T")


def fill_doc(**paragraphs: str) -> Callable[[T], T]:
    """Decorator: the ``%(name)s`` lines of a docstring replaced by ``paragraphs[name]``.

    Each paragraph is dedented, then indented as its placeholder line. A
    placeholder with no paragraph raises KeyError, when the module is imported.
    On a function, put it below ``validate_params``, which copies the docstring
    of what it wraps; on a class, it fills the docstrings of the class and of
    every method defined in it.

    Examples
    --------
    >>> @fill_doc(unit="Seconds, as a float.")
    ... def duration(clip):
    ...     '''Length of ``clip``.
    ...
    ...     %(unit)s
    ...     '''
    >>> print(duration.__doc__.strip())
    Length of ``clip``.
    <BLANKLINE>
        Seconds, as a float.
    """

    def fill(obj: T) -> T:
        members = vars(obj).values() if isinstance(obj, type) else ()
        # A classmethod or staticmethod carries its docstring on the function it wraps.
        for target in [obj, *(getattr(member, "__func__", member) for member in members)]:
            if callable(target) and target.__doc__:  # None under python -OO
                target.__doc__ = _PLACEHOLDER.sub(lambda match: _paragraph(paragraphs, *match.groups()), target.__doc__)
        return obj

    return fill


def _paragraph(paragraphs: dict[str, str], indent: str, name: str) -> str:
    return textwrap.indent(textwrap.dedent(paragraphs[name]).strip("\n"), indent)
