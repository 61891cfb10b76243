"""Every command's JSON follows the one schema of ``derivation.render.data``, documented in
docs/json.md: one representation per field, integers for bytes, a schema version."""

import json

import jsonschema
import pytest
import sympy

from derivation import derive, parse
from derivation.cli import main
from derivation.render.data import SCHEMA, VERSION

GPT3 = ["--set", "s=2048", "--set", "b=2", "--set", "h=12288", "--set", "a=96"]
COMMANDS = {
    "formula": [["formula", "--json"], ["formula", "--json", "--attention", "flash", "--kv-heads", "g"],
                ["formula", "--json", "--scope", "model", "--pipeline-parallel", "p", "--interleave", "m"]],
    "table": [["table", "--format", "json"], ["table", "--format", "json", "--recompute", "selective", *GPT3]],
    "evaluate": [["evaluate", "--json", *GPT3],
                 ["evaluate", "--json", "--model", "gpt3-175b", "--scope", "model", "--recompute", "selective"],
                 ["evaluate", "--json", "--mlp", "swiglu", "--ffn-hidden", "f", *GPT3, "--set", "f=32768"]],
    "budget": [["budget", "--json", "--params", "7500000000", "--zero", "1", "--set", "d=64"],
               ["budget", "--json", "--model", "gpt3-175b", "--sequence-parallel", "--recompute", "selective",
                "--gpu-memory", "80GiB"],
               ["budget", "--json", "--model", "llama3-8b", "--scope", "inference", "--zero", "3", "--set", "d=8"]],
    "check": [["check", "--json", "34sbh"], ["check", "--json", "sbh(34 + 5as/h)"],
              ["check", "--json", "sbh/3", "--per-block", "attention=11sbh"],
              ["check", "--json", "2.67 GiB", "--model", "gpt3-175b"], ["check", "--json", "114 sbh"]],
    "compare": [["compare", "--json", "megatron", "attention=flash"],
                ["compare", "--json", "megatron", "llama", *GPT3, "--set", "f=32768", "--set", "g=8"]],
    "sweep": [["sweep", "--json", "--grid", "s=1024,2048", "--set", "b=2", "--set", "h=12288", "--set", "a=96"],
              ["sweep", "--json", "--dtype", "symbolic", "--grid", "mu=1,3/2", "--set", "beta=2",
               "--set", "s=64", "--set", "b=2", "--set", "h=96", "--set", "a=8"]],
}
CASES = [(command, argv) for command, runs in COMMANDS.items() for argv in runs]


def output(capsys, argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    return json.loads(out)


def test_every_command_with_json_has_a_schema():
    assert set(COMMANDS) == set(SCHEMA)


@pytest.mark.parametrize("command, argv", CASES, ids=[" ".join(argv) for _, argv in CASES])
def test_every_commands_json_validates_against_its_schema(capsys, command, argv):
    data = output(capsys, argv)
    jsonschema.Draft202012Validator.check_schema(SCHEMA[command])
    jsonschema.validate(data, SCHEMA[command], cls=jsonschema.Draft202012Validator)
    assert data["schema"] == VERSION


def test_expressions_are_sympy_text_and_read_back_exactly(capsys):
    data = output(capsys, ["formula", "--json", "--attention", "flash"])
    d = derive(attention="flash")
    assert sympy.expand(sympy.sympify(data["expression"], locals={x.name: x for x in d.symbols}) - d.total) == 0
    for block, text in data["blocks_paper"].items():
        assert sympy.expand(parse(text) - d.breakdown()[block]) == 0


def test_the_variant_is_the_changed_switches_and_switches_is_every_switch(capsys):
    data = output(capsys, ["evaluate", "--json", "--attention", "flash", *GPT3])
    assert data["variant"] == {"attention": "flash"}
    assert data["switches"]["attention"] == "flash" and data["switches"]["dtype"] == "bf16"
    check = output(capsys, ["check", "--json", "34sbh", "--attention", "flash"])
    assert check["variant"] == data["variant"] and check["switches"] == data["switches"]


def test_bytes_are_integers_everywhere(capsys):
    data = output(capsys, ["table", "--format", "json", *GPT3])
    assert data["bytes"] == derive().evaluate(s=2048, b=2, h=12288, a=96)
    assert sum(tensor["bytes"] for tensor in data["tensors"]) == data["bytes"]
    assert sum(data["breakdown"].values()) == data["bytes"]


def test_a_schema_refuses_a_field_it_does_not_define(capsys):
    data = output(capsys, ["formula", "--json"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**data, "surprise": 1}, SCHEMA["formula"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**data, "schema": VERSION + 1}, SCHEMA["formula"])
