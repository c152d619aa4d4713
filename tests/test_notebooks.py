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


def execute(name, parameters):
    """Run notebook ``name`` with its parameter cell replaced by ``parameters``; returns its code-cell outputs."""
    notebook = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    [cell] = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    cell.source = parameters
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": NOTEBOOKS}}).execute()
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def test_every_notebook_is_listed():
    assert sorted(name for name in os.listdir(NOTEBOOKS) if name.endswith(".ipynb")) == sorted(TINY)


@pytest.mark.parametrize(
    "name",
    [name if name == "ptbxl_quickstart.ipynb" else pytest.param(name, marks=pytest.mark.slow) for name in sorted(TINY)],
)  # the two others run with `python -m pytest -m slow`, so that the default run stays under 15 minutes
def test_notebook_runs_on_tiny_data(name, tmp_path, monkeypatch):
    ptbxl_folder(str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")  # the kernel inherits the environment
    outputs = execute(name, f"DATA = {str(tmp_path / 'ptbxl')!r}\n{TINY[name]}")
    assert not [output for output in outputs if output.output_type == "error"]
    figures = [
        output for output in outputs if output.output_type == "display_data" and "image/png" in output.get("data", {})
    ]
    assert figures, "a figure is drawn"


@pytest.mark.slow  # 23 s; the default run stays under 15 minutes (the notebook itself runs in it)
def test_the_quickstart_falls_back_to_the_bundled_records(tmp_path):
    outputs = execute(
        "ptbxl_quickstart.ipynb", f"DATA = {str(tmp_path / 'absent')!r}\n{TINY['ptbxl_quickstart.ipynb']}"
    )
    assert not [output for output in outputs if output.output_type == "error"]
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "tests/data/ptbxl: 4 records" in text and "reloaded student gives the same logits: True" in text


@pytest.mark.parametrize("name", sorted(TINY))
def test_committed_notebook_carries_the_outputs_of_a_clean_run(name):
    notebook = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code), "every code cell was run"
    outputs = [output for cell in code for output in cell.get("outputs", [])]
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert outputs and not [output for output in outputs if output.output_type == "error"]
    assert "/work/" not in text and "/root/" not in text and "Traceback" not in text, "no machine paths, no errors"
