"""docs/variants.md is generated from the code and must not drift."""

from pathlib import Path

from derivation.render.variants_page import markdown, rows
from derivation.variant import CHOICES, FLAGS

PAGE = Path(__file__).resolve().parents[1] / "docs" / "variants.md"


def test_variants_page_matches_the_code():
    assert PAGE.read_text() == markdown(), (
        "docs/variants.md is stale: run python -m derivation.render.variants_page > docs/variants.md")


def test_every_switch_value_has_a_row():
    shown = {(name, value) for name, value, *_ in rows()}
    for name, values in CHOICES.items():
        assert all((name, value) in shown for value in values)
    for name in FLAGS:
        assert (name, "on") in shown and (name, "off") in shown


def test_no_switch_value_is_refused_in_its_context():
    assert [row for row in rows() if row[2] == "—"] == []
