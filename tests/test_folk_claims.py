"""Claims found in explanations of activation memory, each with its verdict under stated switches
and the first line of the explanation a check gives (or the note that names the switch).

Each row: (claim, switches, holds, first line of "accounted for by", a note that must appear).
"""

from __future__ import annotations

import pytest

from derivation.checker import check

GPT3_T8 = {"s": 2048, "b": 1, "h": 12288, "a": 96, "t": 8}

CLAIMS = [
    # the paper's layer and Table 2, as Transformer Math 101 and the paper state them
    ("sbh(34 + 5as/h)", {}, True, None, None),
    ("sbh(10 + 24/t + 5as/(ht))", {"tensor_parallel": "t"}, True, None, None),
    ("34sbh/t + 5as^2b/t", {"tensor_parallel": "t", "sequence_parallel": True}, True, None, None),
    ("sbh(10 + 24/t)", {"tensor_parallel": "t", "recompute": "selective"}, True, None, None),
    ("34sbh/t", {"tensor_parallel": "t", "sequence_parallel": True, "recompute": "selective"}, True, None, None),
    ("2sbh", {"recompute": "full"}, True, None, None),
    ("sbh(34 + 7as/h)", {"preset": "gpt2"}, True, None, None),
    ("sbh(12 + 4a/h + 8f/h + 4g/a)", {"preset": "llama"}, True, None, None),
    ("sbh(34 + 4a/h)", {"attention": "flash"}, True, None, None),
    ("sbh(32 + 2as/h)", {"dropout": False}, True, None, None),
    ("sbh(66 + 9as/h)", {"dtype": "fp32"}, True, None, None),
    ("2.67 GiB", {}, True, None, None),
    ("114 sbh", {}, True, None, None),
    # "every element is 2 bytes", "double it for fp32", and other byte counts
    ("sbh(36 + 6as/h)", {}, False,
     "2sbh + as^2b: every bool tensor counted at 2 bytes per element instead of 1 byte per element",
     "the claim holds with mask_bytes=dtype"),
    ("sbh(68 + 10as/h)", {"dtype": "fp32"}, False,
     "2sbh + as^2b: every bool tensor counted at 2 bytes per element instead of 1 byte per element", None),
    ("sbh(34 + 6as/h)", {}, False,
     "as^2b: softmax_dropout_mask counted at 2 bytes per element instead of 1 byte per element", None),
    ("sbh(34 + 4as/h)", {}, False, "-as^2b: left out by the claim: tensors", None),
    ("sbh(34 + 7as/h)", {}, False, "2as^2b: counted twice by the claim: any one of these",
     "the claim holds with softmax_dtype=fp32"),
    ("sbh(35 + 5as/h)", {}, False, "sbh: counted twice by the claim: any one of these", None),
    # bit-packed masks, and the paper's formula under them: signs follow the amounts
    ("129sbh/4 + 33as^2b/8", {}, False,
     "-7sbh/4 - 7as^2b/8: every bool tensor counted at 1/8 byte per element instead of 1 byte per element", None),
    ("sbh(34 + 5as/h)", {"mask_bytes": "bits"}, False,
     "7sbh/4 + 7as^2b/8: every 1 bit tensor counted at 1 byte per element instead of 1/8 byte per element", None),
    # the paper's formula applied to layers it does not describe
    ("sbh(34 + 5as/h)", {"attention": "flash"}, False, "-4asb: left out by the claim: tensors",
     "the claim holds with attention=eager"),
    ("sbh(34 + 5as/h)", {"preset": "llama"}, False, "-4asb: left out by the claim: tensors", None),
    ("sbh(34 + 5as/h)", {"kv_heads": "g"}, False, "-4sbhg/a: left out by the claim: every sbhg/a tensor",
     "the claim holds with qkv=separate or with qkv_layout=copies or with rope=unfused"),
    ("sbh(34 + 5as/h)", {"norm_stats": True}, False, "-16sb: left out by the claim: every sb tensor",
     "the claim holds with norm_stats=off"),
    ("sbh(34 + 5as/h)", {"tensor_parallel": "t"}, False, None, "the claim holds with tensor_parallel=1"),
    ("sbh(34 + 5as/h)", {"dtype": "symbolic"}, False, None, "the claim holds with dtype=bf16 or with dtype=fp16"),
    # grouped-query attention
    ("sbh(34 + 4a/h)", {"attention": "flash", "kv_heads": "g"}, False,
     "4sbh - 4sbhg/a: k, v counted with a in place of g", None),
    ("sbh(30 + 4a/h + 4g/a)", {"attention": "flash"}, False, "-4sbh: left out by the claim: any one of these",
     "with kv_heads = g the claim holds"),
    # parallelism and recomputation
    ("sbh(10 + 24/t + 5as/(ht))", {}, False, None, "with tensor_parallel = t the claim holds"),
    ("2sbh/t", {"tensor_parallel": "t", "recompute": "full"}, False, None,
     "the claim holds with sequence_parallel=on"),
    ("sbh(10 + 24/t + 5as/ht)", {"tensor_parallel": "t"}, False, None,
     "'sbh(10 + 24/t + 5as/(ht))' holds"),
    ("sbh(32 + 4as/h)", {"dropout": False}, False,
     "2as^2b: softmax_output counted at 4 bytes per element instead of 2 bytes per element", None),
    # numbers from papers, per rank
    ("2.67 GiB", {"tensor_parallel": "t"}, False, None, None),
    ("552 MiB", {"tensor_parallel": "t"}, True, None, None),
]


@pytest.mark.parametrize("claim, switches, holds, first, note", CLAIMS,
                         ids=[f"{c}|{','.join(f'{k}={v}' for k, v in s.items())}" for c, s, *_ in CLAIMS])
def test_folk_claim(claim, switches, holds, first, note):
    values = GPT3_T8 if "tensor_parallel" in switches and "iB" in claim else None
    result = check(claim, values=values, **switches)
    assert result.holds is holds
    text = str(result)
    if first is not None:
        lines = text.splitlines()
        assert lines[lines.index("  accounted for by:") + 1].strip() == first
    if note is not None:
        assert note in text


def test_parts_of_a_negative_amount_are_printed_with_minus_and_positive_bytes():
    lines = str(check("129sbh/4 + 33as^2b/8")).splitlines()
    parts = [line.strip() for line in lines if line.strip().startswith(("- attention/", "- mlp/", "+ "))]
    assert parts and all(line.startswith("- ") and "  -" not in line for line in parts)
