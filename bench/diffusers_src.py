"""Imports diffusers from its source tree without its hub dependencies.

diffusers v0.27.2 imports huggingface_hub and safetensors at module load, but building a model from a config
and running it uses neither. When they are not installed, empty stand-in modules are registered: any attribute
is a string constant (UPPER_CASE names), an exception class (names ending in Error) or a function that passes a
single callable through (so it works as a decorator) and otherwise returns None.
"""
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types

STANDINS = ("huggingface_hub", "safetensors")


def _attribute(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if name.isupper():
        return os.path.join("/nonexistent", name.lower())
    if name.endswith("Error") or name.endswith("Exception"):
        return type(name, (Exception,), {})
    return lambda *a, **k: a[0] if len(a) == 1 and not k and callable(a[0]) else None


class _StandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in STANDINS:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = _attribute
        module.__version__ = "0.0"
        return module

    def exec_module(self, module):
        pass


def setup():
    """Puts $DIFFUSERS_SRC (default /tmp/td-diffusers/src) on sys.path and stands in for missing hub modules."""
    src = os.environ.get("DIFFUSERS_SRC", "/tmp/td-diffusers/src")
    if not os.path.isdir(os.path.join(src, "diffusers")):
        sys.exit(f"diffusers source not found at {src}: set DIFFUSERS_SRC to the src/ folder of diffusers v0.27.2 (see bench/README.md)")
    sys.path.insert(0, src)
    # TD_HUB_STANDINS=1: stand in even where newer versions are installed (diffusers 0.27 predates huggingface_hub 1.x)
    forced = os.environ.get("TD_HUB_STANDINS") == "1"
    missing = [m for m in STANDINS if forced or importlib.util.find_spec(m) is None]
    if missing:
        sys.meta_path.insert(0, _StandIn())
