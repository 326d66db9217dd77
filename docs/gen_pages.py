"""Pages the docs build generates (mkdocs-gen-files), so that nothing derived sits in git:

- ``cli.md``: every subcommand's ``--help``, from the parser the CLI runs;
- each design page (``designs/<name>.md``, hand-written) gains its parameter table and the
  calibrations its models use, from the registry; every ``tests/...::test_...`` a page
  cites as a paper check must exist, or the build fails;
- ``calibrations.md``: every constant fitted to a published figure;
- ``predictions.md``: every test marked ``prediction`` (a published figure no constant
  was fitted to) or ``calibration`` (a guard of a fit), with its docstring;
- ``notebooks/*.ipynb``: the notebooks executed now (in parallel, as many as there are
  cores, at most 4); a cell that raises fails the build. ``TOKENFAB_NOTEBOOK_SMALL=1``
  runs them at their small sizes, as the test suite does; ``TOKENFAB_DOCS_EXECUTE=0``
  renders them unexecuted, for quick edits of the other pages.
"""
from __future__ import annotations

import ast
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mkdocs_gen_files
import nbformat
from nbclient import NotebookClient

from tokenfab import calibration, cli, registry
from tokenfab.params import describe

ROOT = Path(__file__).resolve().parent.parent


def cli_page() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    with mkdocs_gen_files.open("cli.md", "w") as f:
        f.write("# CLI reference\n\nGenerated from the parser `tokenfab` runs. Every "
                "command exits 2 with one line on bad input.\n\n```text\n"
                f"{parser.format_help()}```\n")
        for name, sp in sub.choices.items():
            f.write(f"\n## tokenfab {name}\n\n```text\n{sp.format_help()}```\n")


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _calibration_rows(cals) -> str:
    rows = ["| name | value | fitted to | drives |", "|---|---|---|---|"]
    rows += [f"| `{c.name}` | {c.value:.6g} | {_cell(c.fitted_to)} | {_cell(c.drives)} |"
             for c in cals]
    return "\n".join(rows) + "\n"


def _test_functions() -> list[tuple[str, ast.FunctionDef]]:
    """(id, definition) of every test function in ``tests/``."""
    return [(f"tests/{path.name}::{node.name}", node)
            for path in sorted((ROOT / "tests").glob("test_*.py"))
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


def design_pages() -> None:
    tests = {test for test, _ in _test_functions()}
    cals = calibration.all_calibrations()
    for name, entry in registry.DESIGNS.items():
        page = Path("designs") / f"{name}.md"
        cited = re.findall(r"tests/test_\w+\.py::test_\w+", (ROOT / "docs" / page).read_text())
        missing = sorted(set(cited) - tests)
        if missing:
            raise RuntimeError(f"docs/{page} cites tests that do not exist: {missing}")
        own = [c for c in cals if c.name.startswith(entry.package.split("_")[0] + "_")]
        with mkdocs_gen_files.open(str(page), "a") as f:
            f.write(f"\n## Parameters\n\n`tokenfab list {name}` prints the same.\n\n"
                    "| name | default | allowed | meaning |\n|---|---|---|---|\n")
            for p in describe(entry.Params):
                f.write(f"| `{p['name']}` | `{p['default']}` | {_cell(p['allowed'])} | "
                        f"{_cell(p['help'])} |\n")
            f.write("\n## Calibrations\n\n")
            if own:
                f.write("Constants of this design's models fitted to a published figure "
                        "(the shared ones are on [Calibrations](../calibrations.md)):\n\n"
                        + _calibration_rows(own))
            else:
                f.write("None of its own; it uses only the shared ones on "
                        "[Calibrations](../calibrations.md).\n")
    with mkdocs_gen_files.open("calibrations.md", "w") as f:
        f.write("# Calibrations\n\nEvery constant fitted to (or derived from) a published "
                "figure, as `tokenfab list --calibrations` prints them. Every result names "
                "the calibrations it used; the tests check figures these constants were "
                "not fitted to.\n\n" + _calibration_rows(cals))


def _marked_tests() -> list[tuple[str, str, str]]:
    """(kind, test id, docstring) of every test marked prediction or calibration."""
    marks = {f"pytest.mark.{kind}": kind for kind in ("prediction", "calibration")}
    return [(marks[ast.unparse(dec)], test, ast.get_docstring(node) or "")
            for test, node in _test_functions() for dec in node.decorator_list
            if ast.unparse(dec) in marks]


def predictions_page() -> None:
    rows = _marked_tests()
    with mkdocs_gen_files.open("predictions.md", "w") as f:
        f.write("# Predictions and calibrations\n\nEvery test that checks a published "
                "figure. A **prediction** checks a figure no constant was fitted to, with "
                "a tolerance fixed near its observed error; a **calibration** only guards "
                "a fit (see [Calibrations](calibrations.md)). Generated from the tests' "
                "`pytest.mark.prediction` and `pytest.mark.calibration` markers.\n")
        for kind in ("prediction", "calibration"):
            f.write(f"\n## {kind.capitalize()}s\n\n| test | what it checks |\n|---|---|\n")
            for k, test, doc in rows:
                if k == kind:
                    f.write(f"| `{test}` | {_cell(doc) or '(see the test)'} |\n")


def _execute(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    if os.environ.get("TOKENFAB_DOCS_EXECUTE", "1") == "0":
        return nb
    try:
        NotebookClient(nb, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except Exception as e:
        raise RuntimeError(f"notebook {path.name} failed: {e}") from None
    return nb


def notebooks() -> None:
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for path, nb in zip(paths, pool.map(_execute, paths)):
            with mkdocs_gen_files.open(f"notebooks/{path.name}", "w") as f:
                nbformat.write(nb, f)


cli_page()
design_pages()
predictions_page()
notebooks()
