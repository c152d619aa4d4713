"""Where a benchmark result came from: the command, the commit, the date and the machine."""

import datetime
import os
import platform
import subprocess
import sys


def provenance():
    """``{"command", "commit", "date", "machine"}`` for the running benchmark."""
    here = os.path.dirname(os.path.abspath(__file__))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=here
    ).stdout.strip()
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS", "unset")
    return {
        "command": " ".join(["python"] + sys.argv),
        "commit": commit,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, TF_NUM_INTRAOP_THREADS={threads}",
    }
