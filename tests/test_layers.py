"""The package's layers, as the reader of the book is promised them.

The analogies (chapters 8–10) are NumPy-only: importing one must not load torch, whatever else is
installed. Each import runs in a fresh interpreter (``sys.executable -c ...``), since this test
process has long since loaded torch. ``import sgdnoise`` alone is torch-free too: its submodules
load on first use. The import-linter contracts in ``pyproject.toml`` check the same layers
statically (``lint-imports``, run by ``make test``); this test checks what really happens at run
time, including imports made inside functions at module level.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sgdnoise

ANALOGIES = ["morphogen", "vqe", "games", "graphs"]
LIB = str(Path(sgdnoise.__file__).resolve().parents[1])


def loaded_after(statement: str) -> set[str]:
    """Top-level names of the modules in ``sys.modules`` after running ``statement`` afresh."""
    code = f"{statement}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([LIB, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("name", ANALOGIES)
def test_analogy_imports_without_torch(name):
    loaded = loaded_after(f"import sgdnoise.{name}")
    assert "sgdnoise" in loaded
    assert "torch" not in loaded, f"import sgdnoise.{name} loaded torch"


def test_analogies_run_without_torch():
    # Beyond the import: a random call of each analogy stays NumPy-only (no import inside a function).
    loaded = loaded_after(
        "import numpy as np\n"
        "from sgdnoise import games, graphs, morphogen, vqe\n"
        "g = np.random.default_rng(0)\n"
        "morphogen.read_poisson(np.ones(3), 10.0, generator=g)\n"
        "games.gda_bilinear(1.0, 0.0, 0.1, 5, alternating=True, sigma=0.1, generator=g)\n"
        "A, _ = graphs.stochastic_block_model([4, 4], 0.9, 0.1, generator=g)\n"
        "graphs.sampled_mean_aggregate(A, np.ones((8, 1)), 2, False, generator=g)\n"
        "vqe.sample_pauli_estimates(np.array([0.5, -0.2]), 100, generator=g)")
    assert "torch" not in loaded


def test_import_sgdnoise_alone_is_light():
    loaded = loaded_after("import sgdnoise")
    assert "torch" not in loaded and "matplotlib" not in loaded


def test_top_level_names_load_on_first_use():
    loaded = loaded_after("import sgdnoise as sn\nsn.make_generator(0, 'cpu')\nsn.hessian.rademacher")
    assert "torch" in loaded
    assert callable(sgdnoise.make_generator) and callable(sgdnoise.provenance)
    assert sgdnoise.claims.mean_and_se is not None


def test_all_and_dir_are_honest():
    for name in sgdnoise.__all__:
        assert getattr(sgdnoise, name) is not None, name
    assert set(sgdnoise.__all__) <= set(dir(sgdnoise))
    with pytest.raises(AttributeError, match="no_such_thing"):
        sgdnoise.no_such_thing  # noqa: B018


def test_analogies_use_only_the_torch_free_checks():
    # import-linter ignores "sgdnoise._validate -> torch" (the import is lazy, inside the helpers
    # that are handed a torch object); this closes the gap it leaves: an analogy may import from
    # _validate only helpers that never import torch.
    import ast

    torch_free = {"check_positive_int", "check_positive_float", "check_finite", "check_bool",
                  "check_numpy_rng", "numpy_generator"}
    lib = Path(__file__).resolve().parent.parent / "lib" / "sgdnoise"
    validate = ast.parse((lib / "_validate.py").read_text())
    for fn in validate.body:
        if isinstance(fn, ast.FunctionDef) and fn.name in torch_free:
            imports = [n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
            assert not imports, f"_validate.{fn.name} imports inside: it is no longer torch-free"
    for name in ANALOGIES:
        tree = ast.parse((lib / f"{name}.py").read_text())
        used = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "_validate" for alias in node.names}
        assert used <= torch_free, f"{name} imports {sorted(used - torch_free)} from _validate (they load torch)"
