"""Variant files: TOML switches and sizes, read without evaluating any text."""

import pytest
from sympy import expand

from derivation import DerivationError, derive
from derivation.config import read_config_values
from derivation.symbols import a, b, h, s


def write(tmp_path, text):
    path = tmp_path / "variant.toml"
    path.write_text(text)
    return path


def test_config_switches_match_keyword_switches(tmp_path):
    path = write(tmp_path, 'attention = "flash"\nkv_heads = "g"\n')
    assert derive(config=path) is derive(attention="flash", kv_heads="g")


def test_config_preset_then_overrides(tmp_path):
    path = write(tmp_path, 'preset = "llama"\nffn_hidden = "8*h/3"\n')
    assert derive(config=path).variant.ffn_hidden == 8 * h / 3


def test_config_values_table(tmp_path):
    path = write(tmp_path, "dropout = false\n[values]\ns = 2048\nh = 4096\n")
    assert read_config_values(path) == {"s": 2048, "h": 4096}
    assert expand(derive(config=path).total - (32 * s * b * h + 2 * a * s**2 * b)) == 0


@pytest.mark.parametrize("text, message", [
    ("attention = 'flsh'\n", "switch 'attention' got 'flsh'"),
    ("colour = 'red'\n", "unknown switch 'colour'"),
    ("attention = [1, 2]\n", "switch 'attention'"),
    ("kv_heads = 'os.system(1)'\n", "switch 'kv_heads': unknown symbol 'o'"),
    ("attention = \n", "is not valid TOML"),
    ("[attention]\nx = 1\n", "config key 'attention' is a table"),
    ("sequence_parallel = true\n", "sequence_parallel needs tensor parallelism"),
    ("preset = 'gpt5'\n", "unknown layer preset 'gpt5'"),
])
def test_bad_config_files_are_refused_naming_the_key(tmp_path, text, message):
    with pytest.raises(DerivationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        derive(config=write(tmp_path, text))


def test_missing_config_file(tmp_path):
    with pytest.raises(DerivationError, match="does not exist"):
        derive(config=tmp_path / "nope.toml")


def test_config_directory_is_refused(tmp_path):
    with pytest.raises(DerivationError, match="is a directory"):
        derive(config=tmp_path)
