"""The explorable report's own pieces: its script, and charts inlined with hover details.

The interactive report runs one script, :func:`script` (``explore.js``, shipped with the
package and inlined): the flame graph of :mod:`goforensics.show.flame`, the cards' focus
buttons. The Content-Security-Policy allows exactly that script by its hash
(:func:`goforensics.show.page.csp`); dump text never reaches it but as JSON data and
``textContent``.

The other charts are drawn by vl-convert as before; :func:`inline_figure` puts the SVG in the
page itself (not in an ``<img>``, where nothing can be hovered) once it has checked that it
holds only drawing elements, and gives every mark a ``<title>`` (the browser's tooltip) from
the description Vega writes for it.

>>> "JSON.parse" in script() and "innerHTML" not in script() and "eval" not in script()
True
"""

from __future__ import annotations

import itertools
import re
import traceback
import xml.etree.ElementTree as ET
from functools import cache
from importlib import resources

from .page import e, figure

__all__ = ["inline_figure", "inline_svg", "script"]

_SVG = "http://www.w3.org/2000/svg"
_XLINK = "http://www.w3.org/1999/xlink"
# what Vega's SVG renderer writes: drawing elements only (no script, no foreignObject, no
# image, no animation, no link)
_DRAWING = {
    "svg", "g", "path", "rect", "text", "tspan", "line", "circle", "ellipse", "polygon",
    "polyline", "clipPath", "defs", "linearGradient", "radialGradient", "stop", "title", "desc",
}  # fmt: skip
_URL = re.compile(r"url\(#([^)]*)\)")
_figures = itertools.count()


@cache
def script() -> str:
    """The report's own script (``explore.js``, package data), as the page inlines it.

    Returns
    -------
    str
        JavaScript with no ``</script`` in it (so it cannot end its own element).

    Examples
    --------
    >>> "</script" in script().lower()
    False
    """
    text = resources.files("goforensics.show").joinpath("explore.js").read_text(encoding="utf-8")
    if "</script" in text.lower():
        raise ValueError("explore.js must not contain '</script'")
    return text


def _tooltip_keys(spec) -> set[str]:
    """The titles of the fields a chart's specification names as its tooltip."""
    keys: set[str] = set()
    if isinstance(spec, dict):
        for k, v in spec.items():
            if k == "tooltip":
                for t in v if isinstance(v, list) else [v]:
                    if isinstance(t, dict) and (t.get("title") or t.get("field")):
                        keys.add(str(t.get("title") or t.get("field")))
            else:
                keys |= _tooltip_keys(v)
    elif isinstance(spec, list):
        for v in spec:
            keys |= _tooltip_keys(v)
    return keys


def _title_of(label: str, keys: set[str]) -> str:
    pairs = [p.split(": ", 1) for p in label.split("; ")]
    kept = [p for p in pairs if len(p) == 2 and (not keys or p[0] in keys)]
    return "\n".join(f"{k}: {v}" for k, v in kept) if kept else label


def inline_svg(svg: str, prefix: str, keys: set[str] = frozenset()) -> str | None:
    """Vega's SVG made fit to sit in the page: checked, ids made unique, marks titled.

    Parameters
    ----------
    svg : str
        An SVG document from :func:`goforensics.show.draw.to_svg`.
    prefix : str
        Prepended to every id (several charts in one page each have a ``clip1``).
    keys : set of str
        The tooltip's fields: a mark's title keeps these of its description (all where empty).

    Returns
    -------
    str or None
        The ``<svg>`` element; None where the document holds anything but drawing elements
        or an attribute that could run or fetch something (the caller shows it as an image).

    Examples
    --------
    >>> s = ('<svg xmlns="http://www.w3.org/2000/svg"><clipPath id="c"/><path aria-label='
    ...      '"f: main.x; n: 3" role="graphics-symbol" clip-path="url(#c)"/></svg>')
    >>> out = inline_svg(s, "f1-", {"n"})
    >>> '<clipPath id="f1-c" />' in out, 'clip-path="url(#f1-c)"><title>n: 3</title></path>' in out
    (True, True)
    >>> inline_svg('<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "x") is None
    True
    """
    ET.register_namespace("", _SVG)
    ET.register_namespace("xlink", _XLINK)
    root = ET.fromstring(svg)
    for el in root.iter():
        tag = el.tag.rpartition("}")[2]
        if not el.tag.startswith("{" + _SVG + "}") or tag not in _DRAWING:
            return None
        for name in list(el.attrib):
            local = name.rpartition("}")[2].lower()
            value = el.attrib[name]
            if (
                local.startswith("on")
                or local in ("href", "src", "style")
                or "javascript:" in value
            ):
                return None
            if local == "id":
                el.attrib[name] = prefix + value
            elif "url(#" in value:
                el.attrib[name] = _URL.sub(lambda m: f"url(#{prefix}{m.group(1)})", value)
        label = el.attrib.get("aria-label")
        if label and el.attrib.get("role") == "graphics-symbol":
            ET.SubElement(el, f"{{{_SVG}}}title").text = _title_of(label, set(keys))
    return ET.tostring(root, encoding="unicode")


def inline_figure(make, caption: str) -> str:
    """A chart inlined as SVG with a tooltip on every mark; an image where it cannot be inlined.

    Parameters
    ----------
    make : callable
        Makes the Altair chart (called here, so that its failure is caught).
    caption : str
        The figure's caption.

    Returns
    -------
    str
        A ``<figure class="svg">``; :func:`goforensics.show.page.figure` (an image, or a
        note naming the error) where the chart fails or holds anything but drawing.

    Examples
    --------
    >>> import pandas as pd
    >>> from goforensics.show.draw import chart
    >>> c = chart(pd.DataFrame({"x": [1], "y": [3]})).mark_bar().encode(x="x:Q", y="y:Q",
    ...                                                                  tooltip=["y:Q"])
    >>> html = inline_figure(lambda: c, "one bar")
    >>> html.startswith('<figure class="svg" aria-label="one bar"><svg'), "<title>y: 3</title>" in html
    (True, True)
    """
    from .draw import to_svg

    try:
        chart = make()
        svg = inline_svg(to_svg(chart), f"f{next(_figures)}-", _tooltip_keys(chart.to_dict()))
    except Exception as exc:  # a chart must never cost the whole report
        return (
            f'<p class="warn">chart unavailable ({e(caption)}): {e(type(exc).__name__)}: '
            f"{e(exc)}</p><!-- {e(traceback.format_exc(limit=3))} -->"
        )
    if svg is None:
        return figure(lambda: chart, caption)
    return (
        f'<figure class="svg" aria-label="{e(caption)}">{svg}'
        f"<figcaption>{e(caption)}</figcaption></figure>"
    )
