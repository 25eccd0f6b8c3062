"""One figure style for the whole book.

Conventions: theory is a line (:func:`plot_theory`), simulation or measurement is markers with
error bars (:func:`plot_measured`); colours come from the Okabe–Ito palette, which stays
distinguishable under the common colour-vision deficiencies; figures have an opaque white
background so they stay readable in the website's dark mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

STYLE: dict[str, object] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.constrained_layout.use": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the book's matplotlib style (rcParams and the colour cycle) globally.

    Call once at the top of a notebook. Idempotent.
    """
    mpl.rcParams.update(STYLE)
    mpl.rcParams["axes.prop_cycle"] = mpl.cycler(color=list(PALETTE))


def color(i: int) -> str:
    """The ``i``-th colour of :data:`PALETTE` (cycling); ``i`` is an integer."""
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
        raise ValueError(f"i must be an integer (the colour's index), got {i!r}")
    return PALETTE[i % len(PALETTE)]


def plot_theory(ax: plt.Axes, x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                label: str, **kwargs) -> list:
    """Draw a theoretical curve: a solid line, drawn beneath the measurements."""
    kwargs.setdefault("zorder", 1)
    return ax.plot(x, y, label=label, **kwargs)


def plot_measured(ax: plt.Axes, x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray,
                  label: str, yerr: Sequence[float] | np.ndarray | None = None, marker: str = "o",
                  **kwargs):
    """Draw measurements as markers (hollow-filled) with optional error bars (±``yerr``)."""
    kwargs.setdefault("zorder", 3)
    kwargs.setdefault("markerfacecolor", "white")
    kwargs.setdefault("markeredgewidth", 1.4)
    kwargs.setdefault("capsize", 2.5)
    return ax.errorbar(x, y, yerr=yerr, fmt=marker, label=label, **kwargs)


def plot_band(ax: plt.Axes, x, mean, err, label: str | None = None, **kwargs) -> None:
    """A curve with a shaded ±``err`` band (for noisy training curves over several seeds)."""
    (line,) = ax.plot(x, mean, label=label, **{k: v for k, v in kwargs.items() if k != "alpha"})
    ax.fill_between(x, np.asarray(mean) - err, np.asarray(mean) + err, color=line.get_color(),
                    alpha=kwargs.get("alpha", 0.2), linewidth=0)
