"""The README's examples are real output, and CI runs the README's test command."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def shell_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)


def test_readme_has_exactly_two_setup_commands():
    assert shell_blocks()[:2] == ["pip install -e . && derivation table",
                                  'pip install torch==2.13.0 && pip install -e ".[test]" && python -m pytest -q']


def test_ci_runs_the_readmes_test_command():
    assert shell_blocks()[1] in (ROOT / ".ci" / "run").read_text()


def test_printed_cli_examples_are_what_the_cli_prints():
    for block in re.findall(r"```text\n(.*?)\n```", README, flags=re.S):
        for command, output in re.findall(r"^\$ (derivation[^\n]*)\n(.*?)(?=^\$ |\Z)", block + "\n",
                                          flags=re.S | re.M):
            args = shlex.split(command)[1:]
            result = subprocess.run([sys.executable, "-m", "derivation", *args], capture_output=True,
                                    text=True, cwd=ROOT)
            assert result.stdout.rstrip() == output.rstrip(), command


def test_python_example_is_real():
    import doctest

    block = re.search(r"```python\n(.*?)\n```", README, flags=re.S).group(1)
    cleaned = re.sub(r"  +# .*$", "", block, flags=re.M)
    test = doctest.DocTestParser().get_doctest(cleaned, {}, "README", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries >= 5
