"""The project states its licence and how to cite it."""
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_a_permissive_licence_stated_in_pyproject():
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == {"text": "Apache-2.0"}


def test_citation_file():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "Apache-2.0"
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert cff["version"] == meta["version"] and cff["title"].startswith("tokenfab")
    assert cff["authors"] and cff["message"]


def test_the_readme_quick_start_prints_what_it_shows(capsys):
    """Each quick-start command's shown lines are what it prints today."""
    import re
    import shlex
    from tokenfab.cli import main
    text = (ROOT / "README.md").read_text()
    block = text.split("### Quick start")[1].split("```")[1]
    commands = re.split(r"^\$ ", block, flags=re.M)[1:]
    assert len(commands) == 3
    for chunk in commands:
        first, *shown = chunk.strip("\n").splitlines()
        argv = shlex.split(first.split("#")[0])[1:]          # drop .venv/bin/tokenfab
        assert main(argv) == 0
        out = capsys.readouterr().out
        for line in shown:
            line = line.rstrip()
            if line and line != "..." and not line.endswith("..."):
                assert line in out, (argv, line)
