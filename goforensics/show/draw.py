"""Drawing basics shared by the charts: safe data, names, colours, notes, and the offline renderers.

Every table a chart draws enters Altair through :func:`chart`, which passes it
through :func:`goforensics.show.safe.safe_frame`; every specification reaches
vl-convert through :func:`to_svg` or :func:`to_png`, which pass it through
:func:`goforensics.show.safe.safe_spec`. The renderer aborts the process on a
character XML forbids, so no text from a dump reaches it unchecked.
"""

from __future__ import annotations

import re

import altair as alt
import pandas as pd

from ..model import Dumps
from .safe import safe_frame, safe_spec

__all__ = [
    "CHAR_PX",
    "CLASS_SCALE",
    "FRAME_CLASS_COLORS",
    "WIDTH",
    "chart",
    "clip",
    "last_snapshot",
    "note",
    "offline",
    "short_function",
    "to_png",
    "to_svg",
]

FRAME_CLASS_COLORS = {
    "application": "#d6604d",
    "third-party": "#f4a582",
    "stdlib": "#92c5de",
    "runtime": "#bababa",
}
CLASS_SCALE = alt.Scale(domain=list(FRAME_CLASS_COLORS), range=list(FRAME_CLASS_COLORS.values()))
WIDTH = 640
CHAR_PX = 6.6  # average glyph width at Vega's default 10-11px sans font, for truncating labels


def _vl_version() -> str:
    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    return f"{major}.{minor}"


def chart(data: pd.DataFrame) -> alt.Chart:
    """An Altair chart of ``data`` made safe (:func:`goforensics.show.safe.safe_frame`)."""
    return alt.Chart(safe_frame(data))


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG document (vl-convert; nothing fetched).

    The specification goes through :func:`goforensics.show.safe.safe_spec` first: the
    renderer aborts the process on characters XML forbids.
    """
    import vl_convert as vlc

    return vlc.vegalite_to_svg(safe_spec(chart.to_dict()), vl_version=_vl_version())


def to_png(chart: alt.TopLevelMixin, scale: float = 1.0) -> bytes:
    """The chart as PNG bytes (vl-convert; nothing fetched; the specification made safe first)."""
    import vl_convert as vlc

    return vlc.vegalite_to_png(safe_spec(chart.to_dict()), vl_version=_vl_version(), scale=scale)


def offline(renderer: str = "png", scale: float = 1.0) -> None:
    """Make Jupyter display charts as static PNG (or SVG) images drawn by vl-convert.

    Static images render on GitHub and offline and need no JavaScript; Altair's
    default HTML output would load Vega from a CDN.
    """
    if renderer not in ("png", "svg"):
        raise ValueError("renderer must be 'png' or 'svg'")
    if renderer == "png":
        alt.renderers.enable("png", scale_factor=scale)
    else:
        alt.renderers.enable("svg")


def short_function(name: str) -> str:
    """A function name without its import path (``pkg.(*T).m``).

    >>> short_function("github.com/acme/api/store.(*DB).Query.func2")
    'store.(*DB).Query.func2'
    >>> short_function("main.main")
    'main.main'
    """
    name = str(name)
    masked = re.sub(r"\[[^\]]*\]", lambda m: "_" * len(m.group()), name)
    return name[masked.rfind("/") + 1 :]


def clip(text: str, chars: int) -> str:
    text = str(text)
    if chars <= 1:
        return ""
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


def last_snapshot(dumps: Dumps, snapshot: int | None) -> int | None:
    """``snapshot``, or the last snapshot of ``dumps`` where it is None."""
    if snapshot is None and len(dumps.goroutines):
        return int(dumps.goroutines["snapshot"].max())
    return snapshot


def note(text: str, width: int = WIDTH) -> alt.Chart:
    """A chart that only says something (where there is nothing to draw)."""
    return (
        chart(pd.DataFrame({"text": [text]}))
        .mark_text(align="left", fontSize=13, color="#555")
        .encode(text="text:N")
        .properties(width=width, height=40)
    )
