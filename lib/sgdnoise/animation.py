"""Animations and slider sweeps that play in a static web page, with no kernel and no server.

A figure is drawn once per frame by a function ``draw(i)`` that updates the matplotlib figure;
each frame is rendered to a small PNG (low dpi, a reduced palette), and the frames are embedded in
a self-contained HTML player: an image, a slider, step buttons and (for an animation) a play
button. The player is the object's ``_repr_html_``, so a notebook cell that ends with it shows it
in JupyterLab and myst-nb copies it into the static site. It is the same idea as matplotlib's
``FuncAnimation(...).to_jshtml()``, without what that template brings and a static, offline,
accessible site does not want: a stylesheet from a CDN (font-awesome icons) and no alt text.

* Nothing plays by itself: a frame changes only when the reader presses a button or moves the
  slider (readers who do not want motion see the first frame, a still figure).
* The image carries the alt text (what happens, in words); the controls have ``aria-label``\\ s.
* :func:`animate_frames` is for motion in time (play / pause, step back and forth);
  :func:`slider_sweep` for a knob the reader scrubs (the slider's label shows the knob's value).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ._validate import check_positive_int

#: Frames are rendered at this resolution unless asked otherwise (dots per inch): small files.
DEFAULT_DPI = 64
#: Colours kept per frame (a palette PNG); the book's figures use a handful of colours.
DEFAULT_COLORS = 32

_SCRIPT = """(function () {
  var root = document.getElementById(%(id)s);
  var img = root.querySelector("img.sgdnoise-player-frame");
  var slider = root.querySelector("input.sgdnoise-player-slider");
  var label = root.querySelector(".sgdnoise-player-label");
  var play = root.querySelector("button[data-action=play]");
  var frames = [img.src].concat(JSON.parse(root.querySelector("script.sgdnoise-player-frames").textContent));
  var labels = JSON.parse(root.querySelector("script.sgdnoise-player-labels").textContent);
  var current = 0, timer = null;
  function show(i) {
    current = Math.max(0, Math.min(frames.length - 1, i));
    img.src = frames[current];
    slider.value = current;
    root.dataset.frame = current;
    label.textContent = labels[current];
  }
  function stop() {
    if (timer) { clearInterval(timer); timer = null; }
    if (play) { play.textContent = "\\u25B6 play"; play.setAttribute("aria-label", "play"); }
  }
  function start() {
    if (current >= frames.length - 1) { show(0); }
    play.textContent = "\\u275A\\u275A pause"; play.setAttribute("aria-label", "pause");
    timer = setInterval(function () { if (current >= frames.length - 1) { stop(); } else { show(current + 1); } },
                        %(interval)d);
  }
  root.querySelectorAll("button").forEach(function (b) {
    b.addEventListener("click", function () {
      var a = b.dataset.action;
      if (a === "play") { if (timer) { stop(); } else { start(); } return; }
      stop();
      if (a === "prev") { show(current - 1); } else if (a === "next") { show(current + 1); }
      else if (a === "first") { show(0); } else if (a === "last") { show(frames.length - 1); }
    });
  });
  slider.addEventListener("input", function () { stop(); show(parseInt(slider.value, 10)); });
  show(0);
})();"""


@dataclass(frozen=True)
class FramePlayer:
    """A self-contained HTML player of pre-rendered frames (what a notebook cell displays).

    Attributes
    ----------
    html : str
        The player: ``<div class="sgdnoise-player ...">`` with the frames as data-URL PNGs.
    n_frames : int
    kind : str
        ``"animation"`` (play button) or ``"sweep"`` (a knob on the slider).
    alt : str
        The alt text of the image.
    labels : tuple of str
        The label shown with each frame (time, or the knob's value).
    still : str
        The last frame as a ``data:image/png;base64,...`` URL: what print shows (``_repr_png_``).

    Notes
    -----
    A displayed player carries two representations: ``text/html`` (the player, which the website
    picks) and ``image/png`` (its last frame, which the PDF, built by Sphinx's LaTeX builder through
    myst-nb, picks because it cannot print HTML). Every animated output of the book must carry both.
    """

    html: str
    n_frames: int
    kind: str
    alt: str
    labels: tuple[str, ...]
    still: str = ""

    def _repr_html_(self) -> str:
        return self.html

    def _repr_png_(self) -> bytes | None:
        if not self.still:
            return None
        return base64.b64decode(self.still.split(",", 1)[1])

    def __repr__(self) -> str:
        return f"<FramePlayer {self.kind}: {self.n_frames} frames, {self.nbytes / 1e3:.0f} kB>"

    @property
    def nbytes(self) -> int:
        """Size of the HTML in bytes (what the player adds to a page)."""
        return len(self.html.encode())


def render_frame(fig: plt.Figure, dpi: float = DEFAULT_DPI, colors: int = DEFAULT_COLORS) -> str:
    """The figure as it is now, as a ``data:image/png;base64,...`` URL (palette PNG).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    dpi : float
        Resolution; the image is ``figsize × dpi`` pixels.
    colors : int
        Size of the palette the frame is reduced to (2 to 256).

    Returns
    -------
    str

    Examples
    --------
    >>> fig, ax = plt.subplots(figsize=(2, 1)); _ = ax.plot([0, 1])
    >>> render_frame(fig, dpi=20).startswith("data:image/png;base64,")
    True
    >>> plt.close(fig)
    """
    from PIL import Image

    colors = check_positive_int("colors", colors, minimum=2, maximum=256)
    if not dpi > 0:
        raise ValueError(f"dpi must be > 0, got {dpi}")
    canvas = fig.canvas
    if hasattr(canvas, "buffer_rgba"):          # Agg (and the notebook's inline backend): no PNG round trip
        if fig.get_dpi() != dpi:
            fig.set_dpi(dpi)
        fig.patch.set_facecolor("white")
        canvas.draw()
        rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    else:
        raw = io.BytesIO()
        fig.savefig(raw, format="png", dpi=dpi, facecolor="white")
        raw.seek(0)
        rgb = Image.open(raw).convert("RGB")
    small = rgb.quantize(colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    small.save(out, format="png", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _frames(fig, draw, n_frames, dpi, colors) -> list[str]:
    frames = []
    try:
        for i in range(n_frames):
            draw(i)
            frames.append(render_frame(fig, dpi, colors))
            if i == 0 and fig.get_layout_engine() is not None:
                # Lay the figure out once, on the first frame: the axes then stay put (no jumping
                # between frames), and each later frame is drawn several times faster.
                fig.set_layout_engine("none")
    finally:
        plt.close(fig)  # the player replaces the figure: no still copy under the cell
    return frames


def _player(frames: list[str], labels: Sequence[str], alt: str, kind: str, slider_label: str,
            interval_ms: int) -> FramePlayer:
    uid = "sgdnoise-player-" + hashlib.sha1("".join(frames[:2]).encode() + alt.encode()).hexdigest()[:10]
    esc = lambda s: html.escape(s, quote=True)  # noqa: E731
    buttons = [("first", "first frame", "\u00AB first"), ("prev", "previous frame", "\u2039 step")]
    if kind == "animation":
        buttons.append(("play", "play", "\u25B6 play"))
    buttons += [("next", "next frame", "step \u203A"), ("last", "last frame", "last \u00BB")]
    controls = "".join(f'<button type="button" data-action="{a}" aria-label="{esc(lab)}" title="{esc(lab)}">{text}</button>'
                       for a, lab, text in buttons)
    # "</" inside the JSON blocks would end the script element early: escape it.
    as_json = lambda obj: json.dumps(obj).replace("</", "<\\/")  # noqa: E731
    body = (
        f'<div class="sgdnoise-player sgdnoise-{kind}" id="{uid}" data-frames="{len(frames)}" data-frame="0">'
        f'<img class="sgdnoise-player-frame" src="{frames[0]}" alt="{esc(alt)}">'
        f'<div class="sgdnoise-player-controls">{controls}'
        f'<input class="sgdnoise-player-slider" type="range" min="0" max="{len(frames) - 1}" step="1" value="0" '
        f'aria-label="{esc(slider_label)}">'
        f'<output class="sgdnoise-player-label" aria-live="polite">{esc(labels[0])}</output></div>'
        f'<script type="application/json" class="sgdnoise-player-frames">{as_json(frames[1:])}</script>'
        f'<script type="application/json" class="sgdnoise-player-labels">{as_json(list(labels))}</script>'
        f"<script>{_SCRIPT % {'id': json.dumps(uid), 'interval': interval_ms}}</script></div>"
    )
    return FramePlayer(html=body, n_frames=len(frames), kind=kind, alt=alt, labels=tuple(labels), still=frames[-1])


def _check_alt(alt: str) -> str:
    if not isinstance(alt, str) or len(alt.strip()) < 10:
        raise ValueError(f"alt must say in words what the frames show (at least 10 characters), got {alt!r}")
    return alt.strip()


def animate_frames(fig: plt.Figure, draw: Callable[[int], object], n_frames: int, *, alt: str,
                   labels: Sequence[str] | None = None, interval_ms: int = 120, dpi: float = DEFAULT_DPI,
                   colors: int = DEFAULT_COLORS) -> FramePlayer:
    """An animation of ``n_frames`` frames that plays in a static page, only when the reader asks.

    ``draw(i)`` updates ``fig`` to frame ``i`` (set data of existing artists, or redraw); every
    frame is rendered with :func:`render_frame` and ``fig`` is closed.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    draw : callable
        ``draw(i)`` for ``i = 0, ..., n_frames - 1``, called in that order.
    n_frames : int
        At least 2.
    alt : str
        Alt text of the image: what happens, in words.
    labels : sequence of str, optional
        A label per frame (e.g. ``"t = 1.5"``); default ``"frame i / n"``.
    interval_ms : int
        Time between frames when playing, in milliseconds.
    dpi, colors
        Passed to :func:`render_frame`.

    Returns
    -------
    FramePlayer
        Displays as the player (its ``_repr_html_``).

    Raises
    ------
    ValueError
        If ``n_frames`` < 2, ``alt`` is empty, or ``labels`` does not have ``n_frames`` entries.

    Examples
    --------
    >>> fig, ax = plt.subplots(figsize=(2, 1.5)); (line,) = ax.plot([0, 1], [0, 0])
    >>> player = animate_frames(fig, lambda i: line.set_ydata([0, i]), 3, alt="a line tilting upwards", dpi=20)
    >>> player.n_frames, player.kind, "sgdnoise-player" in player._repr_html_()
    (3, 'animation', True)
    """
    n_frames = check_positive_int("n_frames", n_frames, minimum=2)
    interval_ms = check_positive_int("interval_ms", interval_ms, minimum=10)
    alt = _check_alt(alt)
    labels = [f"frame {i + 1} / {n_frames}" for i in range(n_frames)] if labels is None else [str(s) for s in labels]
    if len(labels) != n_frames:
        raise ValueError(f"labels must have n_frames = {n_frames} entries, got {len(labels)}")
    frames = _frames(fig, draw, n_frames, dpi, colors)
    return _player(frames, labels, alt, "animation", "frame", interval_ms)


def slider_sweep(fig: plt.Figure, draw: Callable[[int], object], values: Sequence[float], *, knob: str, alt: str,
                 fmt: str = "{:g}", dpi: float = DEFAULT_DPI, colors: int = DEFAULT_COLORS) -> FramePlayer:
    """A figure whose knob the reader scrubs with a slider, over frames precomputed for ``values``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    draw : callable
        ``draw(i)`` updates ``fig`` to the knob's value ``values[i]``.
    values : sequence of float
        The knob's values, one frame each (at least 2).
    knob : str
        The knob's name as the slider shows it (e.g. ``"ηh"``).
    alt : str
        Alt text of the image: what changes as the knob moves, in words.
    fmt : str
        Format of a value in the slider's label.
    dpi, colors
        Passed to :func:`render_frame`.

    Returns
    -------
    FramePlayer

    Raises
    ------
    ValueError
        If fewer than 2 values, an empty ``knob`` or ``alt``.

    Examples
    --------
    >>> fig, ax = plt.subplots(figsize=(2, 1.5)); (line,) = ax.plot([0, 1], [0, 0])
    >>> sweep = slider_sweep(fig, lambda i: line.set_ydata([0, i]), [0.5, 1.0], knob="slope",
    ...                      alt="a line whose slope follows the slider", dpi=20)
    >>> sweep.labels
    ('slope = 0.5', 'slope = 1')
    """
    values = list(values)
    if len(values) < 2:
        raise ValueError(f"values must hold at least 2 knob values, got {len(values)}")
    if not isinstance(knob, str) or not knob.strip():
        raise ValueError("knob must name the quantity the slider sets")
    alt = _check_alt(alt)
    labels = [f"{knob} = {fmt.format(v)}" for v in values]
    frames = _frames(fig, draw, len(values), dpi, colors)
    return _player(frames, labels, alt, "sweep", knob, 120)
