"""How numbers and text read in the Dagster UI: metrics to meaningful digits, table cells that can wrap.

Only what is shown is rounded; the JSON reports on disk keep full precision.
"""

from __future__ import annotations

import math
import re

# A zero-width space lets the browser break a long run of non-space characters without changing what it shows.
_BREAK = "\u200b"


def significant(value: float, digits: int = 4) -> float:
    """`value` rounded to `digits` significant digits (a loss of 2.438123 reads 2.438, a delta of -0.0028913
    reads -0.002891); infinities and NaN unchanged."""
    if not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.{digits}g}")


def breakable(text: str, every: int = 30) -> str:
    """`text` with a break opportunity after every `every` characters of a run without whitespace (a string of
    commas, a URL), so a Markdown table cell wraps instead of overflowing sideways."""
    return re.sub(rf"\S{{{every}}}(?=\S)", lambda match: match.group(0) + _BREAK, text)


_HEX = re.compile(r"^[0-9a-f]{40,}$")
_SPARK = "▁▂▃▄▅▆▇█"


def short_hash(value: object, keep: int = 12) -> str:
    """A content hash cut to `keep` characters for a table a person reads (the full value stays in the JSON
    beside it); anything else as it is."""
    text = str(value)
    return text[:keep] + "…" if _HEX.match(text) else text


def sparkline(values: list[float], width: int = 24) -> str:
    """A curve in one line of block characters ("▇▆▅▄▃▂"), `width` points at most, evenly picked: a loss curve
    that reads at a glance where a plot needs a click."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    if len(finite) > width:
        finite = [finite[round(i * (len(finite) - 1) / (width - 1))] for i in range(width)]
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    return "".join(_SPARK[min(len(_SPARK) - 1, int((v - low) / span * len(_SPARK)))] for v in finite)


def first_line(exc: BaseException) -> str:
    """An error in a line: the first of its message, or its class when it has none."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
