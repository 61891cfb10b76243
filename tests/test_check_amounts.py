"""Numbers from papers: a claim with a unit is checked at concrete sizes, within the rounding its
written digits allow."""

from __future__ import annotations

from fractions import Fraction

import pytest

from derivation.checker import AmountCheck, check, read_amount
from derivation.cli import main
from derivation.errors import DerivationError

GPT3 = dict(s=2048, b=1, h=12288, a=96)  # 2,868,903,936 bytes = 114 sbh per layer


@pytest.mark.parametrize("text, value, tolerance", [
    ("2.67 GiB", Fraction(267, 100) * 1024**3, Fraction(1, 200) * 1024**3),
    ("2868903936 bytes", Fraction(2868903936), Fraction(1, 2)),
    ("2,868,903,936 B", Fraction(2868903936), Fraction(1, 2)),
    ("2.87 GB", Fraction(287, 100) * 10**9, Fraction(1, 200) * 10**9),
    ("114 sbh", Fraction(114), Fraction(1, 2)),
    ("552 MiB", Fraction(552 * 1024**2), Fraction(1024**2, 2)),
])
def test_amounts_are_read_with_the_tolerance_of_their_digits(text, value, tolerance):
    amount = read_amount(text)
    assert amount.value == value and amount.tolerance == tolerance


@pytest.mark.parametrize("text", ["sbh(34 + 5as/h)", "34sbh", "114sbh", "2*s*b*h", "114"])
def test_formulas_are_not_amounts(text):
    assert read_amount(text) is None


@pytest.mark.parametrize("text, holds", [
    ("2.67 GiB", True), ("2.66 GiB", False), ("2868903936 bytes", True), ("2868903937 bytes", False),
    ("114 sbh", True), ("113 sbh", False), ("2.87 GB", True), ("2.67 GB", False),
])
def test_amounts_hold_within_their_rounding_at_gpt3_sizes(text, holds):
    result = check(text, values=GPT3)
    assert isinstance(result, AmountCheck) and result.derived == 2868903936 and result.holds is holds


def test_per_rank_sizes_come_from_the_model_and_the_gap_is_printed(capsys):
    assert main(["check", "2.67 GiB", "--model", "gpt3-175b"]) == 1  # 2.67 GiB is before t = 8
    out = capsys.readouterr().out
    assert out.startswith("does not hold: 2.67 GiB") and "578,813,952 bytes (552.00 MiB)" in out
    assert "difference  +2,288,076,718.08 bytes" in out
    assert main(["check", "552 MiB", "--model", "gpt3-175b"]) == 0


def test_an_unknown_byte_unit_is_one_line_naming_the_units(capsys):
    assert main(["check", "2.67 Gib"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unit 'Gib'") and "GiB" in err and err.count("\n") == 1


def test_a_number_cannot_be_split_per_block():
    with pytest.raises(DerivationError, match="is a number"):
        check("2.67 GiB", {"mlp": "19sbh"})


def test_amount_json_has_the_verdict_and_the_exact_bytes():
    data = check("2868903936 bytes", values=GPT3).as_json()
    assert data["holds"] is True and data["derived_bytes"] == 2868903936 and data["tolerance_bytes"] == "1/2"
