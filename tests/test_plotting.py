import matplotlib
import matplotlib.pyplot as plt
import numpy as np

import sgdnoise as sn
from sgdnoise import plotting


def test_use_style_sets_palette_and_white_background():
    sn.use_style()
    assert matplotlib.rcParams["figure.facecolor"] == "white"
    cycle = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
    assert cycle[:3] == list(plotting.PALETTE[:3])
    assert plotting.color(len(plotting.PALETTE)) == plotting.PALETTE[0]


def test_theory_is_a_line_and_measurement_markers():
    sn.use_style()
    fig, ax = plt.subplots()
    (line,) = plotting.plot_theory(ax, [1, 2, 3], [1, 4, 9], "theory")
    container = plotting.plot_measured(ax, [1, 2, 3], [1.1, 3.9, 9.2], "sim", yerr=[0.1, 0.2, 0.3])
    plotting.plot_band(ax, np.arange(3), np.ones(3), 0.1 * np.ones(3), label="band")
    assert line.get_linestyle() == "-" and line.get_marker() in ("None", None, "")
    assert container.lines[0].get_linestyle() == "None" and container.lines[0].get_marker() == "o"
    labels = ax.get_legend_handles_labels()[1]
    assert sorted(labels) == ["band", "sim", "theory"]
    plt.close(fig)
