"""benchmarks.run_log.Results: a resumed results file keeps what each earlier call recorded about itself."""

import json

from benchmarks.run_log import Results


def test_a_resumed_file_keeps_each_earlier_calls_command_commit_and_cpu(tmp_path):
    path = str(tmp_path / "results.json")
    first = {
        "setting": "s",
        "command": "one",
        "date": "d1",
        "commit": "a",
        "code_changed": False,
        "cpu": {"model": "AMD EPYC", "flags": ["avx2"]},
    }
    results = Results(path, dict(first))
    results.add(model="m", leads="I", seed=0, params=1, test={"macro_auroc": 0.5})
    second = {
        "setting": "s",
        "command": "two",
        "date": "d2",
        "commit": "b",
        "code_changed": True,
        "cpu": {"model": "Intel Xeon", "flags": []},
    }
    resumed = Results(path, dict(second), resume=True)
    resumed.add(model="m", leads="I", seed=1, params=1, test={"macro_auroc": 0.6})
    written = json.loads(open(path).read())
    assert (
        written["earlier"] == [{key: value for key, value in first.items() if key != "setting"}]
        and written["cpu"] == second["cpu"]
    )
    assert [run["seed"] for run in written["runs"]] == [0, 1]
