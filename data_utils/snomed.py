"""SNOMED-CT vocabularies of the PhysioNet/CinC 2020 and 2021 Challenges.

The tables under ``data_utils/tables`` are the 2021 Challenge's ``weights.csv`` and
``dx_mapping_scored.csv`` / ``dx_mapping_unscored.csv`` (BSD-2-Clause, see ``tables/LICENSE``).
A class is written as in the header of ``weights.csv``: equivalent codes joined by ``|``
(``"713427006|59118001"``).
"""

import csv
import functools
import os
import re

TABLES = os.path.join(os.path.dirname(__file__), "tables")
NORMAL_CLASS = "426783006"  # sinus rhythm, the "inactive" output of the challenge metric

# The 2020 Challenge scored 27 codes; the 2021 Challenge added these three (and merged two with LBBB).
_ADDED_IN_2021 = {"6374002", "733534002", "365413008"}
_SAME_DIAGNOSIS = re.compile(r"We score (\d+) and (\d+) as the same diagnosis")


@functools.lru_cache(maxsize=None)
def weights_table(path=None):
    """Return ``(classes, weights)`` of a ``weights.csv``: class strings and a K x K nested list."""
    with open(path or os.path.join(TABLES, "weights.csv"), newline="") as handle:
        rows = list(csv.reader(handle))
    classes = tuple(cell.strip() for cell in rows[0][1:])
    weights = tuple(tuple(float(cell) for cell in row[1:]) for row in rows[1:])
    if len(weights) != len(classes) or any(len(row) != len(classes) for row in weights):
        raise ValueError(f"{path}: weights table is not square over its {len(classes)} classes")
    return classes, weights


@functools.lru_cache(maxsize=None)
def code_names():
    """``{code: (abbreviation, description)}`` for scored and unscored codes."""
    names = {}
    for table in ("dx_mapping_scored.csv", "dx_mapping_unscored.csv"):
        with open(os.path.join(TABLES, table), newline="") as handle:
            for row in csv.DictReader(handle):
                names[row["SNOMEDCTCode"].strip()] = (row["Abbreviation"].strip(), row["Dx"].strip())
    return names


@functools.lru_cache(maxsize=None)
def _scored_groups():
    """Scored codes of ``dx_mapping_scored.csv`` grouped by its "We score A and B as the same" notes."""
    group_of = {}
    with open(os.path.join(TABLES, "dx_mapping_scored.csv"), newline="") as handle:
        for row in csv.DictReader(handle):
            code = row["SNOMEDCTCode"].strip()
            group_of.setdefault(code, [code])
            same = _SAME_DIAGNOSIS.search(row.get("Notes") or "")
            if same:
                first, second = same.groups()
                merged = list(dict.fromkeys(group_of.get(first, [first]) + group_of.get(second, [second])))
                for member in merged:
                    group_of[member] = merged
    return list({id(group): group for group in group_of.values()}.values())


def scored_classes(year=2021):
    """The scored classes from ``dx_mapping_scored.csv``: 26 groups for 2021, LRH-Net's 24 for 2020
    (the 27 codes scored in 2020, three equivalent pairs merged).

    Returns:
        tuple of class strings written as in ``weights.csv`` and in its column order.
    """
    if year not in (2020, 2021):
        raise ValueError(f"scored classes exist for 2020 and 2021, not {year}")
    table_classes, _ = weights_table()
    order = {code: i for i, name in enumerate(table_classes) for code in name.split("|")}
    classes = []
    for group in sorted(_scored_groups(), key=lambda g: order[g[0]]):
        spelled = table_classes[order[group[0]]].split("|")  # the group as weights.csv writes it
        codes = [code for code in spelled if code in group and (year == 2021 or code not in _ADDED_IN_2021)]
        if codes:
            classes.append("|".join(codes))
    return tuple(classes)


def class_of_code(classes):
    """``{code: class}`` mapping every code of each (possibly merged) class to that class."""
    return {code: group for group in classes for code in group.split("|")}


def class_abbreviation(group):
    """``"713427006|59118001"`` -> ``"CRBBB|RBBB"``; unknown codes stay as they are."""
    names = code_names()
    return "|".join(names.get(code, (code,))[0] for code in group.split("|"))
