"""Questions in the calibration's report and per-question figures come in the order people number them."""

from __future__ import annotations

from rubric_schema import natural_key


def test_questions_sort_naturally_whatever_their_ids_look_like():
    ids = ["Q10", "Q2", "1.10", "1.2", "A.2", "A.10", "os-q1", "2"]
    assert sorted(ids, key=natural_key) == ["1.2", "1.10", "2", "A.2", "A.10", "Q2", "Q10", "os-q1"]
