"""Where a benchmark result came from: the command, the commit, the date and the machine."""

import datetime
import os
import platform
import shlex
import subprocess
import sys

from kdpipeline.report import cpu

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command_line():
    """The running command as it can be typed again at the repository root: ``python -m benchmarks.<name> ...``,
    with absolute paths written relative to the repository (no machine's folders in committed results)."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    program = ["python", "-m", spec.name] if spec is not None and spec.name else ["python", sys.argv[0]]
    arguments = [
        os.path.relpath(argument, REPOSITORY) if os.path.isabs(argument) else argument for argument in sys.argv[1:]
    ]
    return " ".join(program + [shlex.quote(argument) for argument in arguments])


def provenance():
    """``{"command", "commit", "code_changed", "date", "machine", "cpu"}`` for the running benchmark;
    ``code_changed`` is True when Python files differ from the commit (the code that ran is not that commit's)."""
    here = os.path.dirname(os.path.abspath(__file__))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=here
    ).stdout.strip()
    changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "*.py"], capture_output=True, cwd=here)
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS", "unset")
    return {
        "command": command_line(),
        "commit": commit,
        "code_changed": changed.returncode == 1,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, TF_NUM_INTRAOP_THREADS={threads}",
        "cpu": cpu(),
    }
