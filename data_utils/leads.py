"""Lead names, the standard order, and the named lead sets of LRH-Net (docs/design.md)."""

from data_utils.errors import UnknownLead

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_BY_LOWER = {name.lower(): name for name in STANDARD_LEADS}

# Lead sets by size, as in LRH-Net (Chauhan et al. 2022); 1 means lead I unless a lead is named.
LEAD_SETS = {
    12: STANDARD_LEADS,
    6: ("I", "II", "III", "aVR", "aVL", "aVF"),
    4: ("I", "II", "III", "V2"),
    3: ("I", "II", "V2"),
    2: ("I", "II"),
    1: ("I",),
}


def canonical_lead(name, record="lead specification"):
    """Return the standard spelling of a lead name given in any case (``"avr"`` -> ``"aVR"``).

    Raises:
        UnknownLead: the name is not one of the 12 standard leads.
    """
    key = str(name).strip().lower()
    if key not in _BY_LOWER:
        raise UnknownLead(record, f"unknown lead name {name!r}; expected one of {', '.join(STANDARD_LEADS)}")
    return _BY_LOWER[key]


def resolve_leads(spec):
    """Turn a lead specification into a tuple of lead names in standard order.

    Args:
        spec: a count from ``LEAD_SETS`` (int or digit string), a lead name, a comma-separated
            string of names, or a sequence of names. ``"avl"`` and ``["V1", "ii"]`` are valid.
    Returns:
        Tuple of standard lead names, sorted in the standard order, without duplicates.
    Raises:
        ValueError: an unknown count or lead name.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        count = int(spec)
        if count not in LEAD_SETS:
            raise ValueError(f"no lead set of size {count}; named sets are {sorted(LEAD_SETS)}")
        return LEAD_SETS[count]
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [canonical_lead(n) for n in names if str(n).strip()]
    if not names:
        raise ValueError("empty lead specification")
    return tuple(lead for lead in STANDARD_LEADS if lead in set(names))
