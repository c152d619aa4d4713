"""The ``--out``/``--resume`` contract of the benchmarks that add rows to a results file."""

import json
import os


def earlier_results(parser, out, resume, recipe=None, keys=()):
    """The results already in ``out`` (None when it does not exist), checked before any work.

    Refuses an existing ``out`` without ``resume`` (its rows would be lost), one that is not JSON or
    lacks one of ``keys`` (the results file of another benchmark), and,
    when ``recipe`` (a JSON-able dict of the settings that decide the numbers) is given, one recorded
    with another recipe or with none (files made before recipes were recorded): the rows of two
    recipes would mix.
    """
    if not os.path.exists(out):
        return None
    if not resume:
        parser.error(f"--out {out} exists: pass --resume to add to its rows, or choose another --out")
    try:
        with open(out) as handle:
            earlier = json.load(handle)
    except (OSError, ValueError) as error:
        parser.error(f"--resume: {out} is not a readable results file ({error}): choose another --out")
    if not isinstance(earlier, dict):
        parser.error(f"--resume: {out} is not a results file (no JSON object at its top): choose another --out")
    missing = [key for key in keys if key not in earlier]
    if missing:
        parser.error(
            f"--resume: {out} has no {', '.join(missing)}: it is another benchmark's file; choose another --out"
        )
    if recipe is not None and earlier.get("recipe") != json.loads(json.dumps(recipe)):
        if "recipe" not in earlier:
            parser.error(
                f"--resume: {out} was made before results files recorded their recipe, so its rows cannot be "
                "matched to this call's settings: choose another --out"
            )
        parser.error(
            f"--resume: {out} was recorded with recipe {earlier['recipe']}; this call's is {recipe}: "
            "choose another --out"
        )
    return earlier
