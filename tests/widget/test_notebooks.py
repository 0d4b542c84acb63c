"""Every notebook in notebooks/ runs top to bottom in a real kernel, headless."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.waiting import seconds

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))

# Run after the notebook, in its kernel: every credential its widgets hold goes to a
# file (never to an output), so the test can look for them in the saved notebook.
_DUMP_SECRETS = """
from streamwidgets import StreamWidget
with open("secrets.txt", "w") as out:
    for widget in StreamWidget.running():
        for secret in widget.connection.dialect.secrets():
            out.write(secret.reveal() + "\\n")
"""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_saves_no_secret(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(_DUMP_SECRETS))
    client = NotebookClient(
        notebook,
        timeout=int(seconds(90)),
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    secrets = (tmp_path / "secrets.txt").read_text().split()
    assert secrets, "the notebook should leave a running widget with a credential"
    saved = nbformat.writes(notebook)
    assert "application/vnd.jupyter.widget-view+json" in saved
    for secret in secrets:
        assert secret not in saved
