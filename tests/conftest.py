import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)  # tests run in parallel (pytest-xdist): one thread each


@pytest.fixture(autouse=True)
def _no_forced_device(monkeypatch):
    """Tests see the machine as it is unless they set the variables themselves."""
    monkeypatch.delenv("SGDNOISE_DEVICE", raising=False)
    monkeypatch.delenv("SGDNOISE_SIZE", raising=False)
