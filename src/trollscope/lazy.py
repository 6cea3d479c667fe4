"""A package's names imported on first use (PEP 562), for the packages the CLI touches before it knows
the command: `trollscope --help` must not pay for DuckDB, Arrow, NumPy or SciPy.

    __getattr__, __dir__ = lazy.exports(__name__, {"Store": "trollscope.store.db"}, __all__)
"""

from __future__ import annotations

import sys
from importlib import import_module
from collections.abc import Callable


def exports(package: str, names: dict[str, str], public: list[str]) -> tuple[Callable, Callable]:
    """The module-level `__getattr__` and `__dir__` of `package`: each name of `names` is read from
    the module it maps to (an absolute module name) the first time it is asked for, then kept."""

    def __getattr__(name: str):
        if name in names:
            value = getattr(import_module(names[name]), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return __getattr__, __dir__
