"""``models/ptbxl/MODEL_CARD.md``, written from ``benchmarks/results/ptbxl_published.json``.

    python -m benchmarks.ptbxl_model_card      # rewrite the card from the committed results

Every figure about the networks is read from that file (``benchmarks.publish_ptbxl`` writes it);
the facts about PTB-XL itself (release, size, origin) are Wagner et al. 2020's.
"""

import json
import os

from benchmarks.provenance import REPOSITORY
from benchmarks.tables import ptbxl_published
from data_utils.files import atomic_write

RESULTS = os.path.join("benchmarks", "results")
CLASS_NAMES = {
    "NORM": "normal ECG",
    "MI": "myocardial infarction",
    "STTC": "ST/T change",
    "CD": "conduction disturbance",
    "HYP": "hypertrophy",
}


def learned_from_words(entry):
    """``"263 labelled training records and 2,367 unlabelled ones"``, or what is known of it."""
    learned = entry.get("learned_from")
    if not learned:
        return "training records the benchmark's report names"
    words = f"{learned['labelled']:,} labelled training records"
    return words + (f" and {learned['unlabelled']:,} unlabelled ones" if learned.get("unlabelled") else "")


def model_card(published, results=RESULTS, folder=os.path.join("models", "ptbxl")):
    """The card's Markdown from the contents of ``ptbxl_published.json`` (files in ``folder``)."""
    files = published["published"]
    names = next(iter(files.values()))["export"]["test"]["per_class"]["auroc"]
    classes = ", ".join(f"{name} ({CLASS_NAMES.get(name, name)})" for name in names)
    benchmark = published["benchmark"]
    lines = [
        "# PTB-XL networks: a 12-lead teacher and 1-3-lead students",
        "",
        "Multi-label classifiers of PTB-XL's five superdiagnostic classes: " + classes + ". Each file outputs",
        "one probability per class; a class is reported when its probability reaches the threshold in the",
        "file's sidecar (tuned on PTB-XL fold 9 for that very file).",
        "",
        "## Files",
        "",
        *ptbxl_published(results),
        "",
        "Macro AUROC and per-class AUROC on PTB-XL fold 10 (the test fold, never used for a choice).",
        "Every `.tflite` is post-training int8 (weights and activations; activation ranges chosen on",
        "fold 9); every `.keras` is the float network it was converted from. Each has a `.json` sidecar",
        "naming its leads, sampling rate, window, preprocessing, classes and thresholds. `split.json`",
        "names the records of each split.",
        "",
        "## How they were made",
        "",
        f"- Benchmark: `{benchmark['command']}` at commit {benchmark['commit']} ({benchmark['date'][:10]}); its",
        "  rows, with every seed, paired intervals and per-class scores, are in `docs/results.md`.",
        f"- Published by `{published['command']}` at commit {published['commit']} ({published['date'][:10]}).",
        "- Chosen on validation only: per lead set, among the student rows of "
        f"{published['fraction']:.0%} labels, the row with the best mean fold-9 macro AUROC over seeds, then",
        "  that row's seed with the best fold-9 score; the teacher is the seed's teacher with the best fold-9 score.",
    ]
    for name, entry in files.items():
        earlier = entry.get("published_by")
        lines.append(
            f"- `{name}`: {entry['row']['model']} on {', '.join(entry['leads'])}, learned from "
            f"{learned_from_words(entry)} (run `{entry['run']}`)."
            + (
                f" Published earlier, by `{earlier['command']}` at commit {earlier['commit']} "
                f"({earlier['date'][:10]}), from the benchmark at commit {earlier['benchmark']['commit']}."
                if earlier
                else ""
            )
        )
    lines += [
        "",
        "## Use",
        "",
        "```bash",
        f"python -m lrhnet.predict --model {os.path.join(shown_folder(folder), list(files)[-1])}.tflite --input PATH "
        "--out preds.csv",
        "```",
        "",
        "PATH is a record or a folder of records in any format the project reads (a PTB-XL folder, WFDB",
        "or challenge `.hea`/`.mat` files), at any sampling rate: each record is resampled, filtered and",
        "normalised as in training, cut into 10 s windows whose outputs are averaged.",
        "",
        "## Data and license",
        "",
        "Trained and evaluated on a subset of PTB-XL 1.0.3 (Wagner et al. 2020, *Scientific Data* 7:154;",
        "PhysioNet, Goldberger et al. 2000), about a sixth of its 21,799 records, with PTB-XL's folds:",
        "1-8 train, 9 validation, 10 test. PTB-XL is licensed CC-BY 4.0; these networks are derived from",
        "it and are shared under the same license, with that attribution.",
        "",
        "## Intended use and limits",
        "",
        "- For research on small ECG networks and on distillation; not a medical device, not validated",
        "  for any clinical decision.",
        "- The data are resting 12-lead ECGs of one German hospital's patients (PTB-XL, recorded",
        "  1989-1996); the students read one to three of those leads, not a wearable's single-lead",
        "  recording, which differs in electrode placement, noise and sampling.",
        "- Trained on a sixth of PTB-XL: the class balance differs from the full set, and fold 10 here",
        "  holds few records per class, so scores carry wide intervals (see `docs/results.md`).",
        "- Five superdiagnostic classes only; rhythm and form statements (such as AFIB or PACE) are not",
        "  outputs.",
    ]
    return "\n".join(lines) + "\n"


def shown_folder(folder):
    """``folder`` as the card names it: relative to the repository when inside it (no machine's paths)."""
    relative = os.path.relpath(os.path.abspath(folder), REPOSITORY)
    return folder if relative.startswith("..") else relative


def write_model_card(results=RESULTS, folder=os.path.join("models", "ptbxl")):
    """Write ``folder/MODEL_CARD.md`` from ``results/ptbxl_published.json``; returns its path."""
    with open(os.path.join(results, "ptbxl_published.json")) as handle:
        published = json.load(handle)
    path = os.path.join(folder, "MODEL_CARD.md")
    atomic_write(path, model_card(published, results, folder))
    return path


if __name__ == "__main__":
    print(write_model_card())
