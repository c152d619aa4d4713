"""Every notebook in ``notebooks/`` runs from top to bottom, on a tiny PTB-XL folder with one epoch each.

The cell tagged ``parameters`` is replaced by tiny settings; any error in any cell fails the test.
The folder is the good and damaged PTB-XL records of the malformed-input corpus (14 good records
in folds 1-10), so the notebooks also meet records they must skip.
"""

import os

import nbformat
import pytest
from malformed_corpus import ptbxl_folder
from nbclient import NotebookClient

NOTEBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "notebooks")
TINY = {
    "ptbxl_quickstart.ipynb": "TEACHER_EPOCHS = 1\nSTUDENT_EPOCHS = 1",
    "liteheart_semi_supervised.ipynb": "LABELED_FRACTION = 0.5\nTEACHER_EPOCHS = 1\nSTUDENT_EPOCHS = 1",
    "deployment.ipynb": "STUDENT_EPOCHS = 1\nFINETUNE_EPOCHS = 1",
}


def test_every_notebook_is_listed():
    assert sorted(name for name in os.listdir(NOTEBOOKS) if name.endswith(".ipynb")) == sorted(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_notebook_runs_on_tiny_data(name, tmp_path, monkeypatch):
    ptbxl_folder(str(tmp_path))
    notebook = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    [parameters] = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    parameters.source = f"DATA = {str(tmp_path / 'ptbxl')!r}\n{TINY[name]}"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")  # the kernel inherits the environment
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": NOTEBOOKS}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    figures = [
        output for output in outputs if output.output_type == "display_data" and "image/png" in output.get("data", {})
    ]
    assert figures, "a figure is drawn"
