"""Progress bars for long loops: shown only when a loop is slow, silenced for the website.

Kept free of torch and NumPy so that every module of the library, the NumPy-only analogies
included, can wrap its step loop in :func:`progress`.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")
_PROGRESS_ENV = "SGDNOISE_PROGRESS"


def progress(iterable: Iterable[T], desc: str, total: int | None = None, delay: float = 3.0,
             leave: bool = True) -> Iterable[T]:
    """Wrap an experiment's outer loop in a text progress bar that shows only when the loop is slow.

    The bar (``tqdm``, plain text on standard error, so it works in Jupyter, in a terminal and on
    Binder without widgets) appears once the loop has run for ``delay`` seconds: at the small
    size most loops finish before that and print nothing, at the large size on a CPU the long
    ones report how far they are. Setting the environment variable ``SGDNOISE_PROGRESS=0``
    silences every bar; the Makefile does so when it builds the website, where a finished bar
    would only be clutter.

    Parameters
    ----------
    iterable : iterable
        The loop, e.g. a list of seeds or batch sizes.
    desc : str
        What the loop does, shown before the bar (non-empty).
    total : int, optional
        Number of items, when ``len(iterable)`` does not exist.
    delay : float, default 3.0
        Seconds (>= 0) before the bar first appears.
    leave : bool, default True
        Keep the finished bar on screen. The library's own step loops pass ``False``, so that
        inside a chapter's loop over seeds or settings only the chapter's bar remains.

    Returns
    -------
    iterable
        The same items, in the same order.

    Examples
    --------
    >>> [x * x for x in progress(range(4), desc="squares")]
    [0, 1, 4, 9]
    """
    if not isinstance(desc, str) or not desc.strip():
        raise ValueError(f"desc must be a non-empty string, got {desc!r}")
    if not (isinstance(delay, (int, float)) and math.isfinite(delay) and delay >= 0):
        raise ValueError(f"delay must be a finite number of seconds >= 0, got {delay!r}")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
        raise ValueError(f"total must be a non-negative int or None, got {total!r}")
    if not isinstance(leave, bool):
        raise ValueError(f"leave must be True or False, got {leave!r}")
    setting = os.environ.get(_PROGRESS_ENV, "1").strip().lower()
    if setting not in ("0", "1", "false", "true", "off", "on", ""):
        raise ValueError(f"environment variable {_PROGRESS_ENV} must be 0 or 1, got {setting!r}")
    from tqdm import tqdm  # the plain-text bar; tqdm.auto would need ipywidgets

    return tqdm(iterable, desc=desc, total=total, delay=delay, mininterval=2.0, file=sys.stderr, leave=leave,
                disable=setting in ("0", "false", "off"), dynamic_ncols=True)
