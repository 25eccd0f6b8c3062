"""The static-site player: frames, size, no autoplay, alt text, and a build without a display."""

import base64
import io
import json
import re
import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

import sgdnoise as sn
from sgdnoise.animation import animate_frames, render_frame, slider_sweep


def _moving_dot(n=5):
    sn.use_style()
    fig, ax = plt.subplots(figsize=(3, 2))
    (dot,) = ax.plot([0], [0], "o")
    ax.set(xlim=(-1, n), ylim=(-1, 1))
    return fig, lambda i: dot.set_data([i], [0])


def _frames(player):
    html = player.html
    first = re.search(r'<img class="sgdnoise-player-frame" src="([^"]+)"', html).group(1)
    rest = json.loads(re.search(r'<script type="application/json" class="sgdnoise-player-frames">(.*?)</script>',
                                html, re.S).group(1).replace("<\\/", "</"))
    return [first] + rest


def _decode(url):
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_animation_embeds_one_distinct_frame_per_step_and_closes_the_figure():
    fig, draw = _moving_dot(5)
    player = animate_frames(fig, draw, 5, alt="a dot moving from left to right", dpi=40)
    frames = _frames(player)
    assert player.n_frames == len(frames) == 5 and player.kind == "animation"
    assert len(set(frames)) == 5, "every frame differs (the dot moved)"
    # The dot moves right: the centroid of the dark-blue pixels moves right frame by frame
    # (decoded independently of the renderer, through PIL).
    xs = []
    for url in frames:
        rgb = np.asarray(_decode(url).convert("RGB")).astype(int)
        blue = rgb[..., 2] - rgb[..., 0] > 80               # the palette's blue dot; grey, black, white are not
        xs.append(np.nonzero(blue)[1].mean())
    assert np.all(np.diff(xs) > 0), xs
    assert _decode(frames[0]).size == (120, 80)                  # figsize × dpi
    assert not plt.fignum_exists(fig.number)                      # no still copy under the cell
    assert player._repr_html_() == player.html


def test_player_has_alt_text_controls_and_no_autoplay():
    fig, draw = _moving_dot(3)
    player = animate_frames(fig, draw, 3, alt='a dot "moving" <right>', dpi=30)
    html = player.html
    assert 'alt="a dot &quot;moving&quot; &lt;right&gt;"' in html
    for action in ("first", "prev", "play", "next", "last"):
        assert f'data-action="{action}"' in html
    assert 'aria-label="frame"' in html
    # Nothing starts a timer except the play button's handler; no autoplay attribute anywhere.
    script = html.split("<script>")[1]
    assert script.count("setInterval") == 1 and "function start()" in script
    assert re.search(r"\bstart\(\)", script.split("function start()")[1].split("root.querySelectorAll")[1])
    assert "autoplay" not in html
    assert "http://" not in html and "https://" not in html        # nothing from a CDN


def test_sweep_labels_show_the_knob_and_it_has_no_play_button():
    fig, draw = _moving_dot(3)
    sweep = slider_sweep(fig, draw, [0.1, 1.0, 1.9], knob="ηh", alt="a dot that follows the knob", fmt="{:.2f}", dpi=30)
    assert sweep.kind == "sweep" and sweep.labels == ("ηh = 0.10", "ηh = 1.00", "ηh = 1.90")
    assert 'data-action="play"' not in sweep.html and 'aria-label="ηh"' in sweep.html
    assert len(_frames(sweep)) == 3


def test_size_of_a_book_sized_animation_stays_small():
    """A 40-frame animation of a book-style figure (two lines, a scatter) stays under 500 kB."""
    sn.use_style()
    rng = np.random.default_rng(0)
    pts = rng.standard_normal((40, 300, 2)).cumsum(0) * 0.1
    fig, ax = plt.subplots(figsize=(6, 3.5))
    cloud = ax.scatter(pts[0, :, 0], pts[0, :, 1], s=4, alpha=0.5)
    ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="x", ylabel="y")
    player = animate_frames(fig, lambda i: cloud.set_offsets(pts[i]), 40, alt="a cloud of points spreading out")
    assert player.nbytes < 500_000, player.nbytes


def test_render_frame_uses_a_small_palette():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(np.random.default_rng(0).random((50, 50)))          # many colours in, at most 16 out
    im = _decode(render_frame(fig, dpi=50, colors=16))
    assert im.mode == "P" and len(im.getcolors()) <= 16
    plt.close(fig)


def test_bad_inputs_name_the_parameter():
    fig, draw = _moving_dot(3)
    with pytest.raises(ValueError, match="n_frames"):
        animate_frames(fig, draw, 1, alt="a dot moving right")
    with pytest.raises(ValueError, match="alt"):
        animate_frames(fig, draw, 3, alt="")
    with pytest.raises(ValueError, match="labels"):
        animate_frames(fig, draw, 3, alt="a dot moving right", labels=["a"])
    with pytest.raises(ValueError, match="values"):
        slider_sweep(fig, draw, [1.0], knob="k", alt="a dot moving right")
    with pytest.raises(ValueError, match="knob"):
        slider_sweep(fig, draw, [1.0, 2.0], knob=" ", alt="a dot moving right")
    with pytest.raises(ValueError, match="colors"):
        render_frame(fig, colors=1)
    plt.close("all")


def test_builds_without_a_display():
    """In a fresh interpreter with no DISPLAY and the Agg backend, as on a build server."""
    code = ("import matplotlib, os; assert 'DISPLAY' not in os.environ; import matplotlib.pyplot as plt;"
            "from sgdnoise.animation import animate_frames;"
            "fig, ax = plt.subplots(); (l,) = ax.plot([0, 1]);"
            "p = animate_frames(fig, lambda i: l.set_ydata([0, i]), 3, alt='a line tilting up');"
            "print(matplotlib.get_backend(), p.n_frames)")
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["agg", "3"] or out.stdout.split()[-1] == "3"


def test_player_prints_as_its_last_frame():
    # The PDF (LaTeX builder) cannot show HTML: the player's image/png is its last frame.
    import io

    from PIL import Image

    fig, ax = plt.subplots(figsize=(2, 1))
    (dot,) = ax.plot([0], [0], "o")
    ax.set_xlim(-1, 4)
    player = sn.animation.animate_frames(fig, lambda i: dot.set_data([i], [0]), 4, alt="a dot moving to the right")
    png = player._repr_png_()
    assert png is not None and png.startswith(b"\x89PNG")
    assert player.still and player.still != player.html.split('src="', 1)[1].split('"', 1)[0]   # not frame 0
    assert Image.open(io.BytesIO(png)).size[0] > 0
