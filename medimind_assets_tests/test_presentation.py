"""What the UI shows: metrics to 4 significant digits, table cells that can wrap."""

import math
import re

from medimind_assets.assets.common import markdown_table
from medimind_assets.presentation import breakable, significant


def test_metrics_are_shown_to_four_significant_digits():
    assert significant(2.4381234567) == 2.438
    assert significant(-0.0028913) == -0.002891
    assert significant(11452.7) == 11450.0
    assert significant(0.0) == 0.0 and math.isinf(significant(math.inf)) and math.isnan(significant(math.nan))


def test_long_runs_without_spaces_get_break_opportunities_and_nothing_else_changes():
    commas = "," * 100
    shown = breakable(commas)
    assert shown.replace("\u200b", "") == commas and shown.count("\u200b") == 3
    sentence = "Diabetes causes thirst, frequent urination and tiredness."
    assert breakable(sentence) == sentence
    rows = [{"question": "q", "answer": "fromE" * 40}]
    table = markdown_table(rows, ["question", "answer"], width=500, wrap=True)
    assert max(len(run) for run in re.split(r"[\s\u200b]", table)) <= 30  # the long cell can wrap
    assert "\u200b" not in markdown_table(rows, ["question", "answer"], width=500)  # ids and hashes stay intact
