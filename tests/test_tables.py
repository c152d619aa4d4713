"""The results tables of the README and docs/results.md: rendered from the committed results files, and kept in sync
with them."""

import os

import pytest

from benchmarks import tables

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def test_document_tables_are_what_the_results_files_render():
    rendered = tables.render(RESULTS)
    assert set(rendered) == set(tables.TABLES), "every table has its committed results"
    shown = set()
    for document in tables.DOCUMENTS:
        with open(os.path.join(ROOT, document)) as handle:
            text = handle.read()
        shown |= tables.tables_in(text)
        assert tables.refresh(text, rendered) == text, (
            f"{document}'s tables are stale: run python -m benchmarks.run_all --tables-only"
        )
    assert shown == set(tables.TABLES), "every table appears in some document"


def test_cells_and_sources_by_hand():
    assert tables.cell({"runs": 3, "f1": [0.70123, 0.0104]}, "f1") == "0.701 ± 0.010"
    assert tables.cell({"runs": 1, "f1": [0.75, 0.0]}, "f1") == "0.750"
    result = {
        "command": "python b.py",
        "commit": "abc1234",
        "date": "2026-11-21T10:00:00+00:00",
        "seeds": [0, 1],
        "earlier": [{}],
    }
    assert (
        tables.source_line("x.json", result)
        == "From `benchmarks/results/x.json`, made by `python b.py` at commit abc1234, 2026-11-21, seeds 0, 1 "
        "(made over 2 calls, all listed in the file)."
    )


def test_replace_tables_fills_blocks_and_refuses_a_missing_one():
    text = "a\n<!-- table:t -->\nold\n<!-- /table:t -->\nb\n"
    assert tables.replace_tables(text, {"t": "new"}) == "a\n<!-- table:t -->\nnew\n<!-- /table:t -->\nb\n"
    assert (
        tables.replace_tables("<!-- table:t -->\n<!-- /table:t -->", {"t": "x"})
        == "<!-- table:t -->\nx\n<!-- /table:t -->"
    )
    with pytest.raises(ValueError, match="no <!-- table:u -->"):
        tables.replace_tables(text, {"u": "x"})
