"""How numbers and text read in the Dagster UI: metrics to meaningful digits, table cells that can wrap.

Only what is shown is rounded; the JSON reports on disk keep full precision.
"""

from __future__ import annotations

import math
import re

SIGNIFICANT_DIGITS = 4
# A zero-width space lets the browser break a long run of non-space characters without changing what it shows.
_BREAK = "\u200b"


def significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """`value` rounded to `digits` significant digits (a loss of 2.438123 reads 2.438, a delta of -0.0028913
    reads -0.002891); infinities and NaN unchanged."""
    if not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.{digits}g}")


def breakable(text: str, every: int = 30) -> str:
    """`text` with a break opportunity after every `every` characters of a run without whitespace (a string of
    commas, a URL), so a Markdown table cell wraps instead of overflowing sideways."""
    return re.sub(rf"\S{{{every}}}(?=\S)", lambda match: match.group(0) + _BREAK, text)
