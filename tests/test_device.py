import pytest
import torch

import sgdnoise as sn


def test_default_device_follows_cuda_availability():
    assert sn.default_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_device_env_forces_cpu(monkeypatch):
    monkeypatch.setenv("SGDNOISE_DEVICE", "CPU")
    assert sn.default_device() == torch.device("cpu")


def test_device_env_rejects_unknown(monkeypatch):
    monkeypatch.setenv("SGDNOISE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="SGDNOISE_DEVICE"):
        sn.default_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_device_env_cuda_without_gpu(monkeypatch):
    monkeypatch.setenv("SGDNOISE_DEVICE", "cuda")
    with pytest.raises(ValueError, match="SGDNOISE_DEVICE"):
        sn.default_device()


def test_size_profile_by_device_and_override(monkeypatch):
    assert sn.size_profile("cpu") == "small"
    assert sn.size_profile(torch.device("cuda")) == "large"
    monkeypatch.setenv("SGDNOISE_SIZE", "large")
    assert sn.size_profile("cpu") == "large"
    monkeypatch.setenv("SGDNOISE_SIZE", "huge")
    with pytest.raises(ValueError, match="SGDNOISE_SIZE"):
        sn.size_profile("cpu")


def test_budget_picks_profile(monkeypatch):
    b = sn.budget(small={"n": 10, "seeds": 2}, large={"n": 1000, "seeds": 20}, device="cpu")
    assert (b.profile, b.n, b.seeds) == ("small", 10, 2)
    b = sn.budget(small={"n": 10}, large={"n": 1000}, device="cuda")
    assert (b.profile, b.n) == ("large", 1000)


def test_budget_rejects_mismatched_keys():
    with pytest.raises(ValueError, match="same keys"):
        sn.budget(small={"n": 1}, large={"m": 2})
    with pytest.raises(ValueError, match="profile"):
        sn.budget(small={"profile": 1}, large={"profile": 2})


def test_progress_yields_the_same_items_and_shows_a_bar(monkeypatch, capsys):
    monkeypatch.setenv("SGDNOISE_PROGRESS", "1")
    items = list(sn.progress(iter([3, 1, 2]), desc="seeds", total=3, delay=0))
    assert items == [3, 1, 2]
    err = capsys.readouterr().err
    assert "seeds" in err and "3/3" in err   # the finished bar names the loop and counts every item


def test_progress_stays_silent_when_fast_or_switched_off(monkeypatch, capsys):
    monkeypatch.setenv("SGDNOISE_PROGRESS", "1")
    assert list(sn.progress(range(5), desc="fast")) == list(range(5))   # finishes before delay=3 s
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("SGDNOISE_PROGRESS", "0")
    assert list(sn.progress(range(5), desc="off", delay=0)) == list(range(5))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kwargs, name", [
    (dict(desc=""), "desc"), (dict(desc=3), "desc"), (dict(desc="x", delay=-1.0), "delay"),
    (dict(desc="x", delay=float("nan")), "delay"), (dict(desc="x", total=-2), "total"),
    (dict(desc="x", total=2.5), "total"), (dict(desc="x", leave=1), "leave"),
])
def test_progress_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        sn.progress(range(3), **kwargs)


def test_progress_rejects_a_bad_environment_setting(monkeypatch):
    monkeypatch.setenv("SGDNOISE_PROGRESS", "maybe")
    with pytest.raises(ValueError, match="SGDNOISE_PROGRESS"):
        sn.progress(range(3), desc="x")
