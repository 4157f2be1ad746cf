"""The HTML report: self-contained, candidate text escaped, every section present, empty rounds handled."""

from __future__ import annotations

import base64
import re
import warnings
from html.parser import HTMLParser

from pipeline.report import load_report_data, render_html, write_report
from pipeline.report._plots import pick_font
from pipeline.store import write_partition


class _Page(HTMLParser):
    """Collects tags with their attributes, element ids and visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _render(scored) -> str:
    return render_html(load_report_data(scored.out, scored.round_id))


def test_hostile_evidence_is_escaped(scored_round):
    html = _render(scored_round)
    page = _parse(html)
    assert "<script" not in html.lower()
    assert not [attrs for tag, attrs in page.tags if tag == "img" and attrs.get("src") == "x"]
    assert '&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;' in html
    assert 'alert("owned")' in "".join(page.text)  # shown to the reviewer as text


def test_report_is_self_contained(scored_round):
    html = _render(scored_round)
    page = _parse(html)
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 3  # totals, questions, speed ratios
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    linked = [v for _, attrs in page.tags for k, v in attrs.items() if k in {"src", "href"} and v]
    assert all(v.startswith("data:") for v in linked)
    assert not [tag for tag, _ in page.tags if tag in {"script", "link", "iframe"}]
    assert "default-src 'none'" in html


def test_every_section_is_present(scored_round):
    page = _parse(_render(scored_round))
    ids = {attrs.get("id") for _, attrs in page.tags}
    assert {"summary", "totals", "questions", "criteria", "code", "review", "provenance"} <= ids
    text = " ".join(page.text)
    assert "unsupported file type '.pdf'" in text
    assert "qwen2.5-coder-1.5b-instruct-q4_k_m" in text
    assert "prompt injection suspected" in text
    assert scored_round.rows["judge_calls"][0]["rubric_sha"] in text


def test_criterion_table_shows_hit_rates(scored_round):
    data = load_report_data(scored_round.out, scored_round.round_id)
    html = render_html(data)
    first = data.criteria[0]
    row = re.search(rf"<td>{re.escape(first.criterion_id)}</td>.*?</tr>", html, re.S)
    assert row and f"{100 * first.hit_rate:.0f}%" in row.group(0)


def test_calibrated_column_only_when_calibrated(scored_round, calibrated_round):
    assert "calibrated mean ± sd" not in _render(scored_round)
    html = _render(calibrated_round)
    assert "calibrated mean ± sd" in html
    assert "Calibration agreement with human grades" in html


def test_empty_round_renders_with_notes(empty_round):
    html = _render(empty_round)
    text = " ".join(_parse(html).text)
    for note in ("No submissions were recorded", "No scored totals", "No items were scored",
                 "No criterion was scored", "No code runs in this round", "Nothing needs review",
                 "No judge calls recorded"):
        assert note in text
    assert "<img" not in html


def test_round_without_code_runs_says_so(scored_round):
    write_partition(scored_round.out, "executor_runs", scored_round.round_id, [])
    html = _render(scored_round)
    assert "No code runs in this round" in html
    assert html.count("<img") == 2


def test_rendering_emits_no_warnings(scored_round):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _render(scored_round)
    assert [str(w.message) for w in caught] == []


def test_write_report_replaces_the_file_atomically(scored_round, tmp_path):
    target = write_report(scored_round.out)
    assert target == scored_round.out / "report-r1.html"
    first = target.read_text(encoding="utf-8")
    assert write_report(scored_round.out, out_file=target) == target
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") and first
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_pick_font_takes_the_first_installed_cjk_font():
    assert pick_font(["DejaVu Sans", "WenQuanYi Zen Hei", "Noto Sans CJK JP"]) == "Noto Sans CJK JP"
    assert pick_font(["DejaVu Sans"]) is None


def test_plots_fall_back_quietly_without_a_cjk_font(monkeypatch):
    from pipeline.report import QuestionStat, _plots

    monkeypatch.setattr(_plots, "pick_font", lambda installed, preferred=(): None)
    stats = [QuestionStat(question_id=qid, max_points=4, n=2, n_missing=0, n_unscored=0, raw_mean=0.5,
                          raw_sd=0.1, calibrated_mean=None, calibrated_sd=None) for qid in ("第1题", "1.2")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = _plots.question_means(stats)
    assert png and base64.b64decode(png)[:4] == b"\x89PNG"
    assert [str(w.message) for w in caught] == []


def test_histogram_of_all_zero_totals_without_a_max():
    from pipeline.report import _plots

    png = _plots.totals_histogram([0.0, 0.0], [], None)
    assert png and base64.b64decode(png)[:4] == b"\x89PNG"
