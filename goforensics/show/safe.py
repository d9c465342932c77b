"""Text from a dump is data: the one place it is made safe for a renderer.

Function names, file paths, labels, panic messages and file names come from whatever
a process printed, and renderers have limits of their own: the SVG text renderer
under :func:`goforensics.show.charts.to_svg` aborts the whole Python process on a
character XML forbids (NUL, form feed, U+FFFE), UTF-8 encoders raise on lone
surrogates (an undecodable file name read with ``surrogateescape``), and a terminal
obeys escape sequences. Every string a chart, a page or a terminal shows goes through
:func:`safe_text` (or :func:`safe_frame` for a table, :func:`safe_spec` for a whole
chart specification) first.

Nothing is dropped: a control character becomes its visible escape (``\\x00``), a lone
surrogate the byte or code point it stands for (``\\xff``, ``\\ud800``), so the reader
still sees what the dump held. Markup is left to the renderer's own escaping
(:func:`html.escape` in the report; Vega draws text as text).

>>> safe_text("main.a\\x00b\\x0c<i>\\udcff")
'main.a\\\\x00b\\\\x0c<i>\\\\xff'
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["UNSAFE", "safe_frame", "safe_records", "safe_spec", "safe_text"]

# C0 and C1 controls and DEL, lone surrogates, the XML noncharacters U+FFFE/U+FFFF, and
# the bidirectional overrides that make text read differently from what it is
# ("Trojan Source"). Tab and newline are kept where the caller allows several lines.
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]"
)
_UNSAFE_ONE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]"
)


def _escape(m: re.Match) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:  # surrogateescape: the undecodable byte itself
        return f"\\x{c - 0xDC00:02x}"
    if c <= 0xFF:
        return f"\\x{c:02x}"
    return f"\\u{c:04x}"


def safe_text(value, *, one_line: bool = False) -> str:
    """``value`` as text any renderer can take: unsafe characters replaced by visible escapes.

    Parameters
    ----------
    value : object
        Anything; None and missing values give ``""``.
    one_line : bool
        Also escape tab, newline and carriage return (for a chart label or a table cell).

    Returns
    -------
    str
        The text with every C0/C1 control, DEL, lone surrogate, U+FFFE/U+FFFF and
        bidirectional override written as ``\\xNN`` or ``\\uNNNN``.

    Examples
    --------
    >>> safe_text("a\\tb\\nc"), safe_text("a\\tb\\nc", one_line=True)
    ('a\\tb\\nc', 'a\\\\x09b\\\\x0ac')
    >>> safe_text(None), safe_text(3)
    ('', '3')
    """
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    text = value if isinstance(value, str) else str(value)
    pattern = _UNSAFE_ONE_LINE if one_line else UNSAFE
    return pattern.sub(_escape, text) if pattern.search(text) else text


def safe_frame(df: pd.DataFrame, *, one_line: bool = True) -> pd.DataFrame:
    """A copy of ``df`` whose text columns (object, string, category) went through :func:`safe_text`.

    Parameters
    ----------
    df : DataFrame
        A table about to be drawn.
    one_line : bool
        Escape newlines and tabs too (the default: chart data are labels).

    Returns
    -------
    DataFrame
        Same columns and index; numbers and times untouched; a categorical column keeps
        its categories' order (each category is made safe once).

    Examples
    --------
    >>> t = safe_frame(pd.DataFrame({"f": ["a\\x00", "b"], "n": [1, 2]}))
    >>> t["f"].tolist(), t["n"].tolist()
    (['a\\\\x00', 'b'], [1, 2])
    """
    out = df.copy(deep=False)
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = [safe_text(c, one_line=one_line) for c in s.cat.categories]
            if len(set(cats)) == len(cats):
                out[col] = s.cat.rename_categories(cats)
            else:  # two categories only differing in what was escaped stay apart as strings
                out[col] = s.astype(object).map(lambda v: safe_text(v, one_line=one_line))
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            out[col] = s.map(
                lambda v: v if not isinstance(v, str) else safe_text(v, one_line=one_line)
            )
    return out


def safe_records(rows: list[dict], *, one_line: bool = True) -> list[dict]:
    """Records (dicts) with their string values made safe: for tables built from Python values.

    A table is where a lone surrogate stops for good (pandas stores text as UTF-8 Arrow
    strings and raises on one), so records are made safe before they become a table.

    Parameters
    ----------
    rows : list of dict
        The records.
    one_line : bool, default True
        Also escape line breaks and tabs.

    Returns
    -------
    list of dict
        New records, their strings safe.

    Examples
    --------
    >>> safe_records([{"f": "a\\udcff", "n": 1}])
    [{'f': 'a\\\\xff', 'n': 1}]
    """
    return [
        {k: safe_text(v, one_line=one_line) if isinstance(v, str) else v for k, v in r.items()}
        for r in rows
    ]


def safe_spec(spec):
    """Every string in a (Vega-Lite) specification made safe, keys included; a new object.

    The last door before a renderer that could abort the process: whatever a chart
    function forgot (a title, a legend label) is escaped here.

    Parameters
    ----------
    spec : dict, list or str
        The specification, or any part of it.

    Returns
    -------
    dict, list or str
        A new object of the same shape, every string safe.

    Examples
    --------
    >>> safe_spec({"title": "a\\x0cb", "data": {"values": [{"f\\x00": 1.5}]}})
    {'title': 'a\\\\x0cb', 'data': {'values': [{'f\\\\x00': 1.5}]}}
    """
    if isinstance(spec, str):
        return safe_text(spec, one_line=True)
    if isinstance(spec, dict):
        return {safe_spec(k): safe_spec(v) for k, v in spec.items()}
    if isinstance(spec, list | tuple):
        return [safe_spec(v) for v in spec]
    return spec
