"""The book's build tools (``tools/*.py``: Sphinx extensions and scripts) as modules, for the tests.

They are not a package: Jupyter Book loads the extensions from ``tools/`` by path, with ``tools/``
on ``sys.path`` (they import each other, e.g. ``sphinx_tables``). :func:`load_tool` does the same.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a module (once per process; registered as ``tools_<name>``)."""
    key = f"tools_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    sys.path.insert(0, str(TOOLS))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[key]
        raise
    finally:
        sys.path.remove(str(TOOLS))
    return module
