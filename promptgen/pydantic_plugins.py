"""Spare pydantic's plugin loader its `importlib.metadata` import when no plugin is installed.

The first time pydantic builds a validator it imports `pydantic.plugin._loader`, which imports
`importlib.metadata` (≈ 15 ms with email, zipfile, csv, ...: more than an edit build's own work at 10k
documents) and then scans every installed distribution for a `pydantic` entry point. Every full build
builds validators. `install()` answers the loader's question the cheap way: when no distribution on
`sys.path` declares a `pydantic` entry point (read from the `entry_points.txt` of each `*.dist-info`
and `*.egg-info` folder, ≈ 1 ms), or `PYDANTIC_DISABLE_PLUGINS` disables them all, it puts a stand-in
`pydantic.plugin._loader` in `sys.modules` whose `get_plugins()` returns what the real one would: no
plugins (any other name is taken from the real module, loaded on demand). Whenever it cannot be sure
(a plugin is declared, a zip or egg file on the path, a custom finder of distributions), it does
nothing and pydantic loads its plugins itself.
"""
from __future__ import annotations

import os
import sys

LOADER = "pydantic.plugin._loader"
GROUP_LINE = "[pydantic]"  # the entry point group pydantic's loader looks up


def install() -> bool:
    """Install the stand-in loader if no pydantic plugin can be installed; True if it did."""
    if LOADER in sys.modules:
        return False  # pydantic has looked already
    disabled = os.environ.get("PYDANTIC_DISABLE_PLUGINS") in ("__all__", "1", "true")
    if not disabled and not no_plugins_declared():
        return False
    import types

    stub = types.ModuleType(LOADER, "Stand-in for pydantic's plugin loader (promptgen.pydantic_plugins).")
    stub.get_plugins = lambda: ()
    stub.__getattr__ = _from_real_loader
    sys.modules[LOADER] = stub
    return True


def no_plugins_declared() -> bool:
    """True when, as far as `importlib.metadata` would see, no distribution declares a `pydantic` entry
    point; False when one does or when that cannot be told without it."""
    from importlib.machinery import PathFinder

    if any(hasattr(f, "find_distributions") and f is not PathFinder for f in sys.meta_path):
        return False  # distributions from somewhere else than the path's folders
    for entry in sys.path:
        folder = entry or os.getcwd()
        try:
            names = os.listdir(folder)
        except NotADirectoryError:
            return False  # a zip or egg file: its distributions are not read here
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")) and _declares_plugin(os.path.join(folder, name)):
                return False
    return True


def _declares_plugin(meta_folder: str) -> bool:
    try:
        with open(os.path.join(meta_folder, "entry_points.txt"), encoding="utf-8", errors="replace") as fh:
            return any(line.strip() == GROUP_LINE for line in fh)
    except OSError:  # no entry points (or an .egg-info file)
        return False


def _from_real_loader(name: str):
    """Any name besides `get_plugins` (a later pydantic may import more): from the real module. Not
    dunder names: the import system asks a module for `__path__` and the like, which it has not."""
    if name.startswith("__"):
        raise AttributeError(name)
    real = sys.modules.get(LOADER + "_real")
    if real is None:  # loaded once, under its own name
        import importlib.util

        import pydantic.plugin

        spec = importlib.util.spec_from_file_location(LOADER + "_real",
                                                      os.path.join(pydantic.plugin.__path__[0], "_loader.py"))
        real = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(real)
        sys.modules[LOADER + "_real"] = real
    return getattr(real, name)
