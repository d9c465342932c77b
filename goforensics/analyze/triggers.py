"""When to take a goroutine dump: the trigger rules a watcher runs on a goroutine count.

Each rule is a small object, estimator-like: its parameters are given to ``__init__``
and kept as attributes, its state is built by :meth:`Trigger.update`, called once per
sample with the sample's time (seconds, any origin) and count; it returns a one-line
reason when the rule fires (take a dump now) and ``None`` otherwise.
:meth:`Trigger.reset` forgets the state.

The rules, each as its authors run it:

- :class:`HolmesRule`: mosn/holmes' goroutine dump rule. Samples go into a ring of the
  last 10 (the current one included); nothing is judged during the first 10 samples;
  then it fires when ``count >= min`` and ``count < max`` (``max=0``: no guard) and either
  ``count > abs`` or ``count >= mean(ring) * (100 + diff) / 100`` (integer arithmetic, as
  Go computes it); after a dump, a cooldown.
- :class:`CockroachRule`: CockroachDB's goroutine dumper, heuristic
  ``double_since_last_dump``: ``count > threshold`` and ``count >= 2 x`` the count of
  the last dump taken (0 before the first).
- :class:`DerivRule`: the PromQL alert ``deriv(go_goroutines[5m]) > 10``: the
  least-squares slope (per second) of the samples of the last 5 minutes.
- :class:`PredictLinearRule`: ``predict_linear(go_goroutines[1h], 2*3600) > limit``: the
  least-squares line of the last hour, read two hours ahead.
  Both alert rules fire when their condition becomes true (an alert that starts firing);
  they fire again only after it has been false.
- :class:`TrendRule`: ours. Over a window, the floor of the count (the minimum of each
  of ``chunks`` equal slices) must have risen through the whole window, not in one
  step: a Mann–Kendall test on the floors (increasing, ``p < alpha``), a Theil–Sen
  slope whose rise over the window is at least ``min_rise`` goroutines and above the
  count's own noise, and each third of the window above the one before it. A burst
  that drains leaves the floor where it was; a backlog that grows for a while rises in
  one part of the window only. Several windows run side by side (a minute for fast
  leaks, hours for one goroutine a minute).

>>> r = CockroachRule(threshold=100)
>>> for t, n in enumerate([30, 120, 150, 250]):
...     print(r.update(t, n))
None
cockroach: 120 goroutines > threshold 100 and >= 2 x 0 (last dump)
None
cockroach: 250 goroutines > threshold 100 and >= 2 x 120 (last dump)
"""

from __future__ import annotations

from collections import deque

import numpy as np

__all__ = [
    "CockroachRule",
    "DerivRule",
    "HolmesRule",
    "PredictLinearRule",
    "TrendRule",
    "Trigger",
    "anchor_rules",
    "replay",
    "rule_from_spec",
]


class Trigger:
    """Base of the trigger rules: ``update(t, count) -> reason | None`` and ``reset()``."""

    name = "trigger"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every sample seen.

        Examples
        --------
        >>> r = CockroachRule(threshold=100)
        >>> r.update(0, 150) is not None, r.update(1, 160)
        (True, None)
        >>> r.reset()
        >>> r.update(2, 150) is not None  # as if it had seen nothing
        True
        """

    def update(self, t: float, count: float) -> str | None:  # pragma: no cover - overridden
        """Take one sample (time in seconds, goroutine count); a reason when the rule fires.

        Parameters
        ----------
        t : float
            The sample's time, in seconds.
        count : float
            The goroutine count then.

        Returns
        -------
        str or None
            The reason, in words, when the rule fires; None otherwise.

        Examples
        --------
        >>> Trigger().update(0, 10)
        Traceback (most recent call last):
        ...
        NotImplementedError
        """
        raise NotImplementedError

    def get_params(self) -> dict:
        """The parameters given to ``__init__`` (as scikit-learn estimators expose them).

        Returns
        -------
        dict
            Parameter name -> value.

        Examples
        --------
        >>> CockroachRule(threshold=500).get_params()
        {'threshold': 500}
        """
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class HolmesRule(Trigger):
    """mosn/holmes' goroutine rule; the defaults are holmes' (min 3000, diff 20%, abs 200k, 10 min).

    >>> r = HolmesRule(min=10, diff=25, abs=2000)
    >>> [r.update(t, n) for t, n in enumerate([10] * 10 + [14])][-1]
    'holmes: 14 goroutines >= 10 (min) and >= 125% of 10 (mean of the last 10)'
    """

    name = "holmes"

    def __init__(
        self,
        min: int = 3000,
        diff: int = 20,
        abs: int = 200_000,
        max: int = 0,
        cooldown: float = 600.0,
        warmup: int = 10,
        ring: int = 10,
    ) -> None:
        self.min, self.diff, self.abs, self.max = min, diff, abs, max
        self.cooldown, self.warmup, self.ring = cooldown, warmup, ring
        super().__init__()

    def reset(self) -> None:
        """Forget every sample seen.

        Examples
        --------
        >>> r = HolmesRule(min=100, diff=20, warmup=3, ring=3)
        >>> _ = [r.update(t, 50) for t in range(4)]
        >>> r.reset()
        >>> r.update(4, 400) is None  # warming up again
        True
        """
        self._ring: deque[int] = deque(maxlen=self.ring)
        self._seen = 0
        self._quiet_until = -np.inf

    def update(self, t: float, count: float) -> str | None:
        """Take one sample; the reason when the rule fires.

        Parameters
        ----------
        t : float
            The sample's time, in seconds.
        count : float
            The goroutine count then.

        Returns
        -------
        str or None
            The reason, in words, when the rule fires; None otherwise.

        Examples
        --------
        >>> r = HolmesRule(min=100, diff=20, warmup=3, ring=3)
        >>> [r.update(t, c) for t, c in enumerate([50, 50, 50, 50, 400])][-1]
        'holmes: 400 goroutines >= 100 (min) and >= 120% of 166 (mean of the last 3)'
        """
        n = int(count)
        self._ring.append(n)
        self._seen += 1
        if self._seen < self.warmup or t < self._quiet_until:
            return None
        if n < self.min or (self.max and n >= self.max):
            return None
        avg = sum(self._ring) // len(self._ring)
        if n > self.abs:
            reason = f"holmes: {n} goroutines > {self.abs} (abs)"
        elif n >= avg * (100 + self.diff) // 100:
            reason = (
                f"holmes: {n} goroutines >= {self.min} (min) and >= {100 + self.diff}% "
                f"of {avg} (mean of the last {len(self._ring)})"
            )
        else:
            return None
        self._quiet_until = t + self.cooldown
        return reason


class CockroachRule(Trigger):
    """CockroachDB's ``double_since_last_dump``: count > threshold (default 1000) and >= 2 x the last dump's."""

    name = "cockroach"

    def __init__(self, threshold: int = 1000) -> None:
        self.threshold = threshold
        super().__init__()

    def reset(self) -> None:
        """Forget every sample seen.

        Examples
        --------
        >>> r = CockroachRule(threshold=100)
        >>> r.update(0, 150) is not None, r.update(1, 160)
        (True, None)
        >>> r.reset()
        >>> r.update(2, 150) is not None
        True
        """
        self._dumped = 0

    def update(self, t: float, count: float) -> str | None:
        """Take one sample; the reason when the rule fires.

        Parameters
        ----------
        t : float
            The sample's time, in seconds.
        count : float
            The goroutine count then.

        Returns
        -------
        str or None
            The reason, in words, when the rule fires; None otherwise.

        Examples
        --------
        >>> r = CockroachRule(threshold=100)
        >>> [r.update(t, c) for t, c in [(0, 80), (1, 150), (2, 160)]]
        [None, 'cockroach: 150 goroutines > threshold 100 and >= 2 x 0 (last dump)', None]
        """
        n = int(count)
        if n > self.threshold and n >= 2 * self._dumped:
            reason = (
                f"cockroach: {n} goroutines > threshold {self.threshold} "
                f"and >= 2 x {self._dumped} (last dump)"
            )
            self._dumped = n
            return reason
        return None


class _Window(Trigger):
    """Samples of the last ``window`` seconds, and the edge of a condition (an alert's firing)."""

    def __init__(self, window: float) -> None:
        self.window = window
        super().__init__()

    def reset(self) -> None:
        self._t: deque[float] = deque()
        self._y: deque[float] = deque()
        self._firing = False

    def _push(self, t: float, count: float) -> tuple[np.ndarray, np.ndarray]:
        self._t.append(float(t))
        self._y.append(float(count))
        while self._t and self._t[0] < t - self.window:
            self._t.popleft()
            self._y.popleft()
        return np.asarray(self._t), np.asarray(self._y)

    def _edge(self, condition: bool, reason: str) -> str | None:
        fire = condition and not self._firing
        self._firing = condition
        return reason if fire else None


def _least_squares(t: np.ndarray, y: np.ndarray, at: float) -> tuple[float, float]:
    """Slope and the line's value at ``at``, as PromQL's deriv and predict_linear fit them."""
    x = t - at
    xm, ym = x.mean(), y.mean()
    sxx = ((x - xm) ** 2).sum()
    slope = float(((x - xm) * (y - ym)).sum() / sxx) if sxx > 0 else 0.0
    return slope, float(ym - slope * xm)


class DerivRule(_Window):
    """``deriv(go_goroutines[5m]) > 10``: goroutines per second over the window.

    >>> r = DerivRule()
    >>> [r.update(t, 100 + 20 * t) for t in range(3)]
    [None, 'deriv: +20.0 goroutines/s over the last 300s > 10', None]
    """

    name = "deriv"

    def __init__(self, window: float = 300.0, rate: float = 10.0) -> None:
        self.rate = rate
        super().__init__(window)

    def update(self, t: float, count: float) -> str | None:
        """Take one sample; the reason when the rule fires.

        Parameters
        ----------
        t : float
            The sample's time, in seconds.
        count : float
            The goroutine count then.

        Returns
        -------
        str or None
            The reason, in words, when the rule fires; None otherwise.

        Examples
        --------
        >>> r = DerivRule(window=10, rate=5)
        >>> [r.update(t, c) for t, c in [(0, 10), (5, 40), (10, 100)]]
        [None, 'deriv: +6.0 goroutines/s over the last 10s > 5', None]
        """
        ts, ys = self._push(t, count)
        slope = _least_squares(ts, ys, t)[0] if len(ts) >= 2 else 0.0
        return self._edge(
            slope > self.rate,
            f"deriv: {slope:+.1f} goroutines/s over the last {self.window:g}s > {self.rate:g}",
        )


class PredictLinearRule(_Window):
    """``predict_linear(go_goroutines[1h], 2*3600) > limit`` (limit 10000 as in kubelet's charts)."""

    name = "predict_linear"

    def __init__(
        self, window: float = 3600.0, ahead: float = 7200.0, limit: float = 10_000
    ) -> None:
        self.ahead, self.limit = ahead, limit
        super().__init__(window)

    def update(self, t: float, count: float) -> str | None:
        """Take one sample; the reason when the rule fires.

        Parameters
        ----------
        t : float
            The sample's time, in seconds.
        count : float
            The goroutine count then.

        Returns
        -------
        str or None
            The reason, in words, when the rule fires; None otherwise.

        Examples
        --------
        >>> r = PredictLinearRule(window=60, ahead=60, limit=800)
        >>> [r.update(t, c) for t, c in [(0, 100), (30, 300), (60, 500)]][-1]
        'predict_linear: 900 goroutines expected in 60s (line of the last 60s) > 800'
        """
        ts, ys = self._push(t, count)
        if len(ts) < 2:
            return self._edge(False, "")
        slope, now = _least_squares(ts, ys, t)
        ahead = now + slope * self.ahead
        return self._edge(
            ahead > self.limit,
            f"predict_linear: {ahead:.0f} goroutines expected in "
            f"{self.ahead:g}s (line of the last {self.window:g}s) > {self.limit:g}",
        )


class TrendRule(Trigger):
    """A floor that rises through a whole window: Mann–Kendall + Theil–Sen on slice minima.

    Parameters
    ----------
    windows : window lengths in seconds, tried shortest first.
    chunks : slices of a window (a multiple of 3); each gives one floor (its minimum).
    alpha : Mann–Kendall significance.
    min_rise : the least rise of the floor over a window, in goroutines.
    noise : the rise must also exceed ``noise`` times the count's spread above its floor.
    cooldown : seconds after a firing during which the rule stays quiet, unless the
        count doubles the one it fired at.
    """

    name = "trend"

    def __init__(
        self,
        windows: tuple[float, ...] = (45.0, 300.0, 1800.0, 7200.0),
        chunks: int = 9,
        alpha: float = 0.01,
        min_rise: float = 5.0,
        noise: float = 1.0,
        cooldown: float = 600.0,
    ) -> None:
        if chunks < 6 or chunks % 3:
            raise ValueError("chunks must be a multiple of 3, at least 6")
        self.windows, self.chunks, self.alpha = tuple(sorted(windows)), chunks, alpha
        self.min_rise, self.noise, self.cooldown = min_rise, noise, cooldown
        super().__init__()

    def reset(self) -> None:
        """Forget every sample seen.

        Examples
        --------
        >>> r = TrendRule(windows=(45.0,))
        >>> _ = [r.update(5.0 * i, 100 + 20 * i) for i in range(9)]
        >>> r.reset()
        >>> r.update(45.0, 280) is None  # no history left to see a trend in
        True
        """
        self._t: deque[float] = deque()
        self._y: deque[float] = deque()
        self._quiet_until = -np.inf
        self._fired_at = np.inf

    def update(self, t: float, count: float) -> str | None:
        """Take one sample; the reason when the rule fires.

        Parameters
        ----------
        t : float
            The sample's time, in seconds.
        count : float
            The goroutine count then.

        Returns
        -------
        str or None
            The reason, in words, when the rule fires; None otherwise.

        Examples
        --------
        >>> r = TrendRule(windows=(45.0,))
        >>> print([r.update(5.0 * i, 100 + 20 * i) for i in range(10)][-1])  # doctest: +NORMALIZE_WHITESPACE
        trend: the floor of the count rose 100 -> 260 through the last 45s
        (Theil–Sen +240.0/min, Mann–Kendall p=0.00026)
        """
        self._t.append(float(t))
        self._y.append(float(count))
        while self._t and self._t[0] < t - max(self.windows) * 1.01:
            self._t.popleft()
            self._y.popleft()
        if t < self._quiet_until and count < 2 * self._fired_at:
            return None
        ts, ys = np.asarray(self._t), np.asarray(self._y)
        for w in self.windows:
            reason = self._judge(ts, ys, t, w)
            if reason:
                self._quiet_until, self._fired_at = t + self.cooldown, float(count)
                return reason
        return None

    def _judge(self, ts: np.ndarray, ys: np.ndarray, t: float, w: float) -> str | None:
        if ts[0] > t - w * 0.95:
            return None  # not watched for a whole window yet
        sel = ts >= t - w
        tw, yw = ts[sel], ys[sel]
        edges = np.linspace(t - w, t, self.chunks + 1)
        idx = np.clip(np.searchsorted(edges, tw, side="right") - 1, 0, self.chunks - 1)
        have = [k for k in range(self.chunks) if (idx == k).any()]
        third = self.chunks // 3
        # a slow sample (a dump being taken) may leave a slice empty; a third without any is too sparse
        if len(have) < 2 * third or any(not any(k // third == j for k in have) for j in range(3)):
            return None
        floors = np.array([yw[idx == k].min() for k in have])
        spread = float(np.median([np.median(yw[idx == k]) - yw[idx == k].min() for k in have]))
        part = np.array([k // third for k in have])
        a, b, c = floors[part == 0], floors[part == 1], floors[part == 2]
        if not (b.min() > a.max() - 1e-9 and c.min() > b.max() - 1e-9 and c.max() > a.max()):
            return None
        x = edges[np.array(have)] + w / self.chunks / 2 - (t - w)
        return _trend_reason(x, floors, w, self.alpha, max(self.min_rise, self.noise * spread))


def _trend_reason(
    x: np.ndarray, floors: np.ndarray, w: float, alpha: float, need: float
) -> str | None:
    import pymannkendall as mk
    from scipy.stats import theilslopes

    slope = float(theilslopes(floors, x).slope)
    rise = slope * w
    if rise < need:
        return None
    test = mk.original_test(floors, alpha=alpha)
    if test.trend != "increasing":
        return None
    return (
        f"trend: the floor of the count rose {floors[0]:.0f} -> {floors[-1]:.0f} through the last "
        f"{w:g}s (Theil–Sen {slope * 60:+.1f}/min, Mann–Kendall p={test.p:.2g})"
    )


_RULES = {
    "holmes": HolmesRule,
    "cockroach": CockroachRule,
    "deriv": DerivRule,
    "predict_linear": PredictLinearRule,
    "trend": TrendRule,
}


def rule_from_spec(spec: str | Trigger) -> Trigger:
    """A trigger rule from a spec such as ``holmes:min=500,diff=25`` (what ``watch --rule`` takes).

    Parameters
    ----------
    spec : ``NAME[:param=value,...]``, NAME one of ``holmes``, ``cockroach``, ``deriv``,
        ``predict_linear``, ``trend``, the parameters those of its class (tuples as
        ``a/b/c``); or a rule, returned as it is.

    Returns
    -------
    Trigger
        A fresh rule. A bad spec raises ValueError with one line.

    Examples
    --------
    >>> rule_from_spec("holmes:min=100,diff=25")
    HolmesRule(min=100, diff=25, abs=200000, max=0, cooldown=600.0, warmup=10, ring=10)
    >>> rule_from_spec("trend:windows=30/300").windows
    (30.0, 300.0)
    """
    if isinstance(spec, Trigger):
        return spec
    name, _, args = spec.partition(":")
    cls = _RULES.get(name.strip())
    if cls is None:
        raise ValueError(f"unknown rule {name!r} (have: {', '.join(_RULES)})")
    kw: dict = {}
    for part in filter(None, (p.strip() for p in args.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise ValueError(f"rule {name}: {part!r} is not param=value")
        try:
            kw[key.strip()] = (
                tuple(float(v) for v in value.split("/"))
                if "/" in value or key == "windows"
                else float(value)
                if "." in value or "e" in value
                else int(value)
            )
        except ValueError:
            raise ValueError(f"rule {name}: {key} needs a number, not {value!r}") from None
    try:
        return cls(**kw)
    except TypeError as e:
        raise ValueError(f"rule {name}: {e}") from None


def anchor_rules() -> dict[str, Trigger]:
    """Every rule at its authors' defaults, by name (what ``watch --rule`` and the benchmark run).

    Returns
    -------
    dict
        Rule name -> a new rule object.

    Examples
    --------
    >>> sorted(anchor_rules())
    ['cockroach', 'deriv', 'holmes', 'predict_linear', 'trend']
    """
    return {
        "holmes": HolmesRule(),
        "cockroach": CockroachRule(),
        "deriv": DerivRule(),
        "predict_linear": PredictLinearRule(),
        "trend": TrendRule(),
    }


def replay(rule: Trigger, times, counts) -> list[tuple[float, float, str]]:
    """Run ``rule`` over a recorded curve from a fresh state; its firings as (time, count, reason).

    Parameters
    ----------
    rule : a trigger rule (reset first).
    times : sample times in seconds (or timestamps, taken as seconds since the first).
    counts : goroutine counts, one per time.

    Returns
    -------
    list of (time, count, reason)

    Examples
    --------
    >>> replay(DerivRule(window=60), [0, 10, 20], [5, 500, 900])[0][:2]
    (10.0, 500.0)
    """
    t = np.asarray(times)
    if np.issubdtype(t.dtype, np.datetime64) or t.dtype == object:
        import pandas as pd

        stamps = pd.to_datetime(pd.Series(times), utc=True)
        t = ((stamps - stamps.iloc[0]).dt.total_seconds()).to_numpy()
    rule.reset()
    out = []
    for ti, ni in zip(t.astype(float), np.asarray(counts, dtype=float), strict=True):
        reason = rule.update(ti, ni)
        if reason:
            out.append((float(ti), float(ni), reason))
    return out
