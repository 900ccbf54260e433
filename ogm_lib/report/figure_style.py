"""The book's one figure style: sharp PNGs of a known size, readable text, mathtext labels, legends off the data.

- **Size.** Every figure is drawn `plots.WIDTH` inches wide (the text column) and saved at `DPI` = 200 pixels per
  inch; its <img> gets `width` = pixels × `CSS_PX_PER_INCH` / `DPI`, so the browser shows it at 100 CSS pixels
  per inch with two image pixels per CSS pixel (sharp on HiDPI screens). `intended_css_width(png)` is that rule;
  the browser test checks every figure of the built book against it.
- **Text.** Tick labels 9 pt, legends 8.5 pt, titles 10 pt; labels use mathtext (`$\\rho^a$`, `$k^a$`), never
  pseudo-math such as "rho^a". `MATH` holds the book's symbols.
- **Legends** go outside the axes (`legend_outside`: to the right, or below for a wide one), never over data.
- **Markers**: one marker per dataset wherever datasets are marked (`DATASET_MARKERS`, `marker_of`).

`install()` applies the rcParams and makes this the PNG of every matplotlib figure a notebook shows.
"""

from __future__ import annotations

import io
import struct

DPI = 200
CSS_PX_PER_INCH = 100
#: the book's text column at 1280 px (sphinx-book-theme 1.3: 688 CSS px of cell output); a wider figure (a legend
#: outside the axes makes the tight bounding box wider than `plots.WIDTH`) is shown this wide, sharper still
MAX_CSS_WIDTH = 680
RC = {
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "legend.title_fontsize": 8.5,
    "legend.frameon": False,
    "mathtext.fontset": "dejavusans",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.titlesize": 10.5,
}
#: the book's symbols in mathtext
MATH = {
    "rho_a": r"$\rho^a$",
    "rho_v": r"$\rho^v$",
    "k_a": r"$k^a$",
    "k_v": r"$k^v$",
    "ge_factor": r"$k^2+1$",
    "sigma1": r"$\mathrm{tr}\,\Sigma_1$",
    "lr2": r"$\eta^2$",
}
#: one marker per dataset (the paper's datasets, the published re-runs' and ours)
DATASET_MARKERS = {
    "CREMA-D": "s",
    "Kinetics-Sounds": "^",
    "VGGSound": "D",
    "AVE": "P",
    "avdigits": "o",
    "synthetic": "X",
    "UCF-101": "v",
    "AV-MNIST": "h",
}
_SPARE_MARKERS = ("*", "<", ">", "p", "d", "8")


def marker_of(dataset: str) -> str:
    """The dataset's marker; a dataset not listed gets one of the spare markers, the same for the same name."""
    for name, m in DATASET_MARKERS.items():
        if name.lower() in str(dataset).lower():
            return m
    return _SPARE_MARKERS[sum(map(ord, str(dataset))) % len(_SPARE_MARKERS)]


def legend_outside(ax, where: str = "right", **kw):
    """The axes' legend outside its data: to the right of the axes, or below it (`where="below"`)."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    if where == "below":
        return ax.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.18),
            ncol=kw.pop("ncol", min(3, len(handles))),
            **kw,
        )
    return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kw)


def apply() -> None:
    import matplotlib

    matplotlib.rcParams.update(RC)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def intended_css_width(png_width_px: int) -> int:
    """The CSS width a figure of `png_width_px` pixels is shown at: `CSS_PX_PER_INCH` per inch of figure, at most
    `MAX_CSS_WIDTH` (at least two image pixels per CSS pixel either way)."""
    return min(round(png_width_px * CSS_PX_PER_INCH / DPI), MAX_CSS_WIDTH)


def figure_png(fig) -> tuple[bytes, dict]:
    """The figure as a PNG at `DPI` (tight bounding box: legends outside the axes are kept) and the display
    metadata that shows it at `intended_css_width`."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.06, facecolor="white")
    data = buf.getvalue()
    w, h = png_size(data)
    css_w = intended_css_width(w)
    return data, {"width": css_w, "height": round(h * css_w / w)}


def install(ip=None) -> bool:
    """rcParams of the book, and `figure_png` as the PNG of every figure the notebook displays (IPython's
    image/png formatter for matplotlib figures). A no-op (rcParams only) outside IPython."""
    apply()
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover
            return False
        ip = get_ipython()
    if ip is None:
        return False
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    # matplotlib resolves its backend at the first figure; the inline backend then registers its own PNG
    # formatter, so make one (and close it) before registering ours
    plt.close(plt.figure())
    apply()  # the inline backend may have reset some rcParams
    ip.display_formatter.formatters["image/png"].for_type(Figure, figure_png)
    return True


__all__ = [
    "DPI",
    "CSS_PX_PER_INCH",
    "RC",
    "MATH",
    "DATASET_MARKERS",
    "marker_of",
    "legend_outside",
    "apply",
    "install",
    "figure_png",
    "png_size",
    "intended_css_width",
]
