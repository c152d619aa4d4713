"""Progress bars for long work: shown on a terminal, silent in logs unless asked for."""

import warnings

with warnings.catch_warnings():
    # in Jupyter without ipywidgets tqdm falls back to text bars, and says so at import
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm


def progress_bar(iterable, progress=None, **kwargs):
    """Wrap ``iterable`` in a tqdm bar. ``progress``: True shows, False hides, None shows on a TTY only."""
    return tqdm(iterable, disable=None if progress is None else not progress, leave=False, **kwargs)
