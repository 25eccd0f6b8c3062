import subprocess
import sys
from datetime import datetime, timezone

import pytest
import torch

import sgdnoise as sn

P = sys.modules["sgdnoise.provenance"]   # the module (sgdnoise.provenance is the function it exports)


def test_line_has_every_fact():
    when = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)
    p = sn.provenance("cpu", now=when)
    text = str(p)
    assert text.startswith("Computed on 2026-01-02 at 03:04 UTC with sgdnoise " + sn.__version__)
    assert f"torch {torch.__version__.split('+')[0]}" in text and "on cpu" in text
    assert f"{sn.size_profile('cpu')} size profile" in text
    assert repr(p) == text and p._repr_html_().startswith('<p class="sgdnoise-provenance">')


def test_commit_is_the_checkouts_head_when_built_from_git():
    # Against git itself, run from the test's side (not through the library's helper).
    head = subprocess.run(["git", "-C", str(P._LIB), "rev-parse", "--short=12", "HEAD"],
                          capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    p = sn.provenance("cpu")
    assert p.commit == head.stdout.strip() and f"commit {p.commit}" in str(p)


def test_commit_is_omitted_outside_git(monkeypatch):
    monkeypatch.setattr(P, "_git", lambda *args: None)
    p = sn.provenance("cpu")
    assert p.commit is None and "commit" not in str(p)


def test_running_time_counts_from_the_import(monkeypatch):
    monkeypatch.setattr(P, "IMPORTED_AT", P.time.monotonic() - 125.0)
    p = sn.provenance("cpu")
    assert 125 <= p.seconds < 200 and ("2 min 5 s" in str(p) or "2 min 6 s" in str(p))
    monkeypatch.setattr(P, "IMPORTED_AT", P.time.monotonic() - 12.0)
    assert "ran for 12 s" in str(sn.provenance("cpu"))


def test_device_names_the_gpu_on_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda dev=None: "Test GPU")
    p = sn.provenance(torch.device("cuda"))
    assert p.device == "cuda (Test GPU)" and "on cuda (Test GPU)" in str(p)
