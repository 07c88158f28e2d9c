"""Hyperparameters read from the constructor's signature, as scikit-learn estimators and skorch callbacks do."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["HyperParameters"]


class HyperParameters:
    """``get_params`` / ``set_params`` for an object whose constructor arguments are its hyperparameters.

    A subclass stores each constructor argument under its own name. Then
    ``get_params()`` reads them back, ``set_params(**options)`` sets some and
    ``clone()`` makes a fresh object with the same options, which is how the
    estimator's nested parameters (``criterion__T__margin=0.2``) reach a loss
    term without touching the object the user passed.

    Examples
    --------
    >>> class Scaled(HyperParameters):
    ...     def __init__(self, scale=1.0):
    ...         self.scale = scale
    >>> Scaled(2.0).get_params(), Scaled().set_params(scale=3.0).scale
    ({'scale': 2.0}, 3.0)
    >>> Scaled(2.0)
    Scaled(scale=2.0)
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        return [name for name, p in signature.parameters.items() if name != "self" and p.kind not in kinds]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, by name."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Any:
        """Set constructor arguments by name; an unknown name is refused with the valid ones listed."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no option {name!r}; its options are: {', '.join(valid) or 'none'}."
                )
            setattr(self, name, value)
        return self

    def clone(self) -> Any:
        """A new object of the same class built from :meth:`get_params` (checked again by its constructor)."""
        return type(self)(**self.get_params())

    def _options_repr(self) -> str:
        return ", ".join(f"{name}={value!r}" for name, value in self.get_params().items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._options_repr()})"
