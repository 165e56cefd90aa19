"""The flat public API: every advertised name resolves, to the object and not a module."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import allocator


def test_every_public_name_resolves_to_an_object_not_a_module() -> None:
    for name in allocator.__all__:
        value = getattr(allocator, name)
        assert not inspect.ismodule(value), f"allocator.{name} is shadowed by a submodule"


def test_public_names_survive_importing_every_submodule() -> None:
    # importing a submodule sets an attribute on the package: it must not hide a function
    # the stage packages and every module in them, e.g. allocator.report and allocator.sweep.run
    for info in pkgutil.walk_packages(allocator.__path__, "allocator."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    test_every_public_name_resolves_to_an_object_not_a_module()
