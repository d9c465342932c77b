"""Drawing basics shared by the charts: safe data, names, colours, notes, and the offline renderers.

Every table a chart draws enters Altair through :func:`chart`, which passes it
through :func:`goforensics.show.safe.safe_frame`; every specification reaches
vl-convert through :func:`to_svg` or :func:`to_png`, which pass it through
:func:`goforensics.show.safe.safe_spec`. The renderer aborts the process on a
character XML forbids, so no text from a dump reaches it unchecked.
"""

from __future__ import annotations

import functools
import re
import threading

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
    "warm_renderer",
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
    """An Altair chart of ``data`` made safe (:func:`goforensics.show.safe.safe_frame`).

    Parameters
    ----------
    data : pandas.DataFrame
        The chart's data.

    Returns
    -------
    altair.Chart
        A chart of the made-safe data, with no mark or encoding yet.

    Examples
    --------
    >>> import pandas as pd
    >>> c = chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_bar().encode(x="x:Q", y="y:Q")
    >>> type(c).__name__, c.to_dict()["mark"]
    ('Chart', {'type': 'bar'})
    """
    return alt.Chart(safe_frame(data))


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG document (vl-convert; nothing fetched).

    The specification goes through :func:`goforensics.show.safe.safe_spec` first: the
    renderer aborts the process on characters XML forbids.

    Parameters
    ----------
    chart : altair chart
        Any top-level Altair chart.

    Returns
    -------
    str
        The SVG document.

    Examples
    --------
    >>> import pandas as pd
    >>> c = chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_bar().encode(x="x:Q", y="y:Q")
    >>> to_svg(c).startswith("<svg")
    True
    """
    import vl_convert as vlc

    return vlc.vegalite_to_svg(safe_spec(chart.to_dict()), vl_version=_vl_version())


@functools.cache
def warm_renderer() -> threading.Thread:
    """Start vl-convert's JavaScript engine in a background thread (once per process).

    Its first conversion spends about half a second of CPU starting the engine, off Python's
    global lock: started before the dumps are read and analysed, that time overlaps theirs on
    a second core, and the charts drawn later find the engine ready. A failure here is left
    to the conversion that needs the engine to report.

    Returns
    -------
    threading.Thread
        The (daemon) thread, started; the same one on every call.

    Examples
    --------
    >>> t = warm_renderer()
    >>> t.join(timeout=60); t.is_alive(), warm_renderer() is t
    (False, True)
    """

    def run() -> None:
        import vl_convert as vlc

        spec = {"data": {"values": [{"x": 0}]}, "mark": "point", "encoding": {}}
        try:
            vlc.vegalite_to_svg(spec, vl_version=_vl_version())
        except Exception:  # the conversion that needs the engine will say what is wrong
            pass

    thread = threading.Thread(target=run, name="vl-convert warm-up", daemon=True)
    thread.start()
    return thread


def to_png(chart: alt.TopLevelMixin, scale: float = 1.0) -> bytes:
    """The chart as PNG bytes (vl-convert; nothing fetched; the specification made safe first).

    Parameters
    ----------
    chart : altair chart
        Any top-level Altair chart.
    scale : float, default 1.0
        Pixels per chart pixel.

    Returns
    -------
    bytes
        The PNG image.

    Examples
    --------
    >>> import pandas as pd
    >>> c = chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_bar().encode(x="x:Q", y="y:Q")
    >>> to_png(c)[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    import vl_convert as vlc

    return vlc.vegalite_to_png(safe_spec(chart.to_dict()), vl_version=_vl_version(), scale=scale)


def offline(renderer: str = "png", scale: float = 1.0) -> None:
    """Make Jupyter display charts as static PNG (or SVG) images drawn by vl-convert.

    Static images render on GitHub and offline and need no JavaScript; Altair's
    default HTML output would load Vega from a CDN.

    Parameters
    ----------
    renderer : {"png", "svg"}
        The image format.
    scale : float, default 1.0
        Pixels per chart pixel (PNG only).

    Returns
    -------
    None
        Altair's renderer is switched for the session.

    Raises
    ------
    ValueError
        If ``renderer`` is neither ``"png"`` nor ``"svg"``.

    Examples
    --------
    >>> offline("jpeg")
    Traceback (most recent call last):
    ...
    ValueError: renderer must be 'png' or 'svg'
    """
    if renderer not in ("png", "svg"):
        raise ValueError("renderer must be 'png' or 'svg'")
    if renderer == "png":
        alt.renderers.enable("png", scale_factor=scale)
    else:
        alt.renderers.enable("svg")


def short_function(name: str) -> str:
    """A function name without its import path (``pkg.(*T).m``).

    Parameters
    ----------
    name : str
        A Go function name.

    Returns
    -------
    str
        The name from its last path element on.

    Examples
    --------
    >>> short_function("github.com/acme/api/store.(*DB).Query.func2")
    'store.(*DB).Query.func2'
    >>> short_function("main.main")
    'main.main'
    """
    name = str(name)
    masked = re.sub(r"\[[^\]]*\]", lambda m: "_" * len(m.group()), name)
    return name[masked.rfind("/") + 1 :]


def clip(text: str, chars: int) -> str:
    """``text`` cut to at most ``chars`` characters, an ellipsis marking the cut.

    Parameters
    ----------
    text : str
        The text (anything else is made a string).
    chars : int
        The most characters kept, the ellipsis included.

    Returns
    -------
    str
        ``text`` itself where it fits; else its start and ``…``; empty for ``chars <= 1``.

    Examples
    --------
    >>> clip("main.(*cache).refresh", 10), clip("main.main", 10)
    ('main.(*ca…', 'main.main')
    """
    text = str(text)
    if chars <= 1:
        return ""
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


def last_snapshot(dumps: Dumps, snapshot: int | None) -> int | None:
    """``snapshot``, or the last snapshot of ``dumps`` where it is None.

    Parameters
    ----------
    dumps : Dumps
        The parsed dumps.
    snapshot : int or None
        A snapshot number, or None for the last one.

    Returns
    -------
    int or None
        ``snapshot`` where given; else the highest snapshot with goroutines (None where
        there are none).

    Examples
    --------
    >>> import goforensics as gf
    >>> d = gf.parse_text("goroutine 1 [chan receive]:\\nmain.main()\\n\\t/app/main.go:9 +0x18\\n")
    >>> last_snapshot(d, None), last_snapshot(d, 3)
    (0, 3)
    """
    if snapshot is None and len(dumps.goroutines):
        return int(dumps.goroutines["snapshot"].max())
    return snapshot


def note(text: str, width: int = WIDTH) -> alt.Chart:
    """A chart that only says something (where there is nothing to draw).

    Parameters
    ----------
    text : str
        What it says.
    width : int
        The chart's width in pixels.

    Returns
    -------
    altair.Chart
        A text mark, 40 pixels high.

    Examples
    --------
    >>> n = note("no goroutines")
    >>> n.to_dict()["mark"]["type"], n.to_dict()["height"]
    ('text', 40)
    """
    return (
        chart(pd.DataFrame({"text": [text]}))
        .mark_text(align="left", fontSize=13, color="#555")
        .encode(text="text:N")
        .properties(width=width, height=40)
    )
