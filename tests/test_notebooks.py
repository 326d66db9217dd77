"""The notebooks as stored in git. Every notebook is executed (at its small sizes,
TOKENFAB_NOTEBOOK_SMALL=1) by the docs build, tests/test_docs.py: a cell that raises
fails it."""
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_parameters_cell_is_tagged_for_papermill(path):
    """papermill injects its parameters after the cell tagged `parameters`: the first code
    cell, which sets SMALL and the notebook's sizes; no outputs are stored in git."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    assert code[0].source.startswith("# Parameters") and "SMALL" in code[0].source
    assert all(not c.outputs for c in code)
