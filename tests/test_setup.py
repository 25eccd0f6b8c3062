"""The set-up path on a bare machine: `make venv-base` recovers from a half-made .venv and says
what to install when Python's venv module cannot bootstrap pip (Debian/Ubuntu without
python3.11-venv). Each test works in a temporary folder with a copy of the Makefile."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASE_PYTHON = shutil.which("python3.11") or getattr(sys, "_base_executable", None) or sys.executable


def _make(tmp_path, *args):
    return subprocess.run(["make", "--no-print-directory", "-C", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def project(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    return tmp_path


def test_venv_without_pip_is_made_afresh(project):
    # What a venv that stopped half-way leaves behind: a python, no pip.
    subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(project / ".venv")], check=True)
    assert subprocess.run([project / ".venv/bin/python", "-m", "pip", "--version"], capture_output=True).returncode != 0
    out = _make(project, "venv-base", f"PYTHON={BASE_PYTHON}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "has no working pip; making it afresh" in out.stdout
    pip = subprocess.run([project / ".venv/bin/python", "-m", "pip", "--version"], capture_output=True, text=True)
    assert pip.returncode == 0 and "pip" in pip.stdout


def test_a_python_without_ensurepip_gets_the_fix_printed_and_no_half_made_venv(project):
    # A stand-in for Debian's python3.11 without the python3.11-venv package: `-m venv` leaves a
    # pip-less .venv behind and fails with ensurepip's message.
    fake = project / "python3.11"
    fake.write_text(f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    "{BASE_PYTHON}" -m venv --without-pip "$3"
    echo "The virtual environment was not created successfully because ensurepip is not available." >&2
    exit 1
fi
exec "{BASE_PYTHON}" "$@"
""")
    fake.chmod(0o755)
    out = _make(project, "venv-base", f"PYTHON={fake}")
    assert out.returncode != 0
    assert "sudo apt-get install python3.11-venv" in out.stdout, out.stdout + out.stderr
    assert not (project / ".venv").exists(), "a half-made .venv was left behind"
    # The second run must not be fooled by anything left over: same message, same exit.
    again = _make(project, "venv-base", f"PYTHON={fake}")
    assert again.returncode != 0 and "python3.11-venv" in again.stdout


def test_missing_python_is_reported(project):
    out = _make(project, "venv-base", "PYTHON=/nonexistent/python3.11")
    assert out.returncode != 0 and "Python 3.11 not found" in out.stdout


def test_setup_path_hides_no_failure():
    text = (ROOT / "Makefile").read_text()
    setup = text[text.index("$(STAMP): requirements.txt"):text.index("# jupyter-cache does not see")]
    assert "|| true" not in setup
    reqs = (ROOT / "requirements.txt").read_text()
    for tool in ("setuptools==", "wheel=="):   # the editable install runs without build isolation
        assert tool in reqs, tool


def test_ci_installs_the_venv_module_and_chromium_when_missing():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3.11-venv" in ci and "chromium-driver" in ci
