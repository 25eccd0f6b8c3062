"""Where and how a page's numbers were computed: one line at the end of every chapter.

:func:`provenance` collects when the page was computed, the library's version and git commit
(when the library is a git checkout), torch's version, the device, the size profile and how long
the notebook has been running. The running time is measured from the moment ``sgdnoise`` was
first imported in the kernel (:data:`IMPORTED_AT`): a chapter imports it in its first cell, so the
time covers every cell but the kernel's start and the imports that come before ``sgdnoise``.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

#: ``time.monotonic()`` when this module (imported by ``import sgdnoise``) was first imported.
IMPORTED_AT: float = time.monotonic()

_LIB = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Provenance:
    """The facts of one computation; ``str()`` (and the displayed value) is the one-line summary.

    Attributes
    ----------
    computed_at : datetime
        When (UTC).
    version : str
        ``sgdnoise.__version__``.
    commit : str or None
        Short git commit of the library's checkout; ``None`` outside a git checkout.
    modified : bool
        The checkout had uncommitted changes to tracked files.
    torch : str
        ``torch.__version__``.
    device : str
        ``"cpu"``, or ``"cuda"`` with the GPU's name.
    profile : str
        The size profile, ``"small"`` or ``"large"``.
    seconds : float
        Seconds since ``sgdnoise`` was imported.
    """

    computed_at: datetime
    version: str
    commit: str | None
    modified: bool
    torch: str
    device: str
    profile: str
    seconds: float

    def line(self) -> str:
        """One sentence for the end of a page."""
        commit = ""
        if self.commit:
            commit = f", commit {self.commit}" + (" with uncommitted changes" if self.modified else "")
        return (f"Computed on {self.computed_at:%Y-%m-%d at %H:%M} UTC with sgdnoise {self.version}{commit}, "
                f"torch {self.torch}, on {self.device}, {self.profile} size profile; "
                f"the notebook ran for {_duration(self.seconds)}.")

    __str__ = line

    def __repr__(self) -> str:  # what glue stores as text/plain, shown by {glue:text}
        return self.line()

    def _repr_html_(self) -> str:
        import html

        return f'<p class="sgdnoise-provenance">{html.escape(self.line())}</p>'


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(_LIB), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> tuple[str | None, bool]:
    """The short commit of the git checkout the library's files belong to, and whether it is modified.

    ``(None, False)`` when git is missing or the library is not tracked by a git checkout (an
    installed copy inside some other repository's folder does not count: its ``__init__.py`` must
    be a tracked file).
    """
    if _git("ls-files", "--error-unmatch", "__init__.py") is None:
        return None, False
    commit = _git("rev-parse", "--short=12", "HEAD")
    if not commit:
        return None, False
    status = _git("status", "--porcelain", "--untracked-files=no")
    return commit, bool(status)


def provenance(device=None, *, now: datetime | None = None) -> Provenance:
    """Provenance of the numbers on the current page.

    Parameters
    ----------
    device : torch.device or str, optional
        The device the page computed on; default :func:`sgdnoise.default_device`.
    now : datetime, optional
        The time to record (default: now, UTC).

    Raises
    ------
    ValueError
        If ``device`` is not a device.

    Returns
    -------
    Provenance
        Displays (and glues) as one line, e.g. "Computed on 2026-01-01 at 12:00 UTC with
        sgdnoise 0.1.0, commit 1a2b3c4d5e6f, torch 2.13.0, on cpu, small size profile; the
        notebook ran for 48 s."

    Examples
    --------
    >>> p = provenance("cpu")
    >>> p.device, p.profile in ("small", "large"), "torch" in str(p)
    ('cpu', True, True)
    """
    import torch

    from . import __version__
    from .device import default_device, size_profile

    try:
        dev = torch.device(device) if device is not None else default_device()
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be a torch.device or a device name such as 'cpu' or 'cuda', got {device!r}") from None
    name = dev.type
    if dev.type == "cuda":
        name = f"cuda ({torch.cuda.get_device_name(dev)})"
    commit, modified = git_commit()
    when = now or datetime.now(timezone.utc)
    return Provenance(computed_at=when, version=__version__, commit=commit, modified=modified,
                      torch=torch.__version__.split("+")[0], device=name, profile=size_profile(dev),
                      seconds=time.monotonic() - IMPORTED_AT)
