"""Multi-level knowledge distillation (MLKD) of LRH-Net: two teachers, T1 on 12 leads and T2 (the
assistant) on the student's leads; loss = a*BCE + (1-a)*(0.6*KD(T1) + 0.4*KD(T2)).

Parallel MLKD trains T2 from scratch on the labels; sequential MLKD first distils T2 from T1.
"""

from lrhnet.distiller import Distiller
from lrhnet.terms import LogitDistillation

PAPER_ALPHA = 0.3
PAPER_TEMPERATURE = 7.0
PAPER_TEACHER_WEIGHTS = (0.6, 0.4)
MODES = ("parallel", "sequential")


def multilevel_terms(
    alpha=PAPER_ALPHA,
    temperature=PAPER_TEMPERATURE,
    teacher_weights=PAPER_TEACHER_WEIGHTS,
    mode="bernoulli",
    scale_t2=False,
):
    """One ``LogitDistillation`` per teacher, weighted ``(1 - alpha) * teacher_weights[i]``."""
    return [
        LogitDistillation(
            (1 - alpha) * weight,
            temperature,
            mode,
            teacher_index=index,
            scale_t2=scale_t2,
            name=f"kd_teacher{index + 1}",
        )
        for index, weight in enumerate(teacher_weights)
    ]


def assistant_distiller(
    teacher, assistant, mode, alpha=PAPER_ALPHA, temperature=PAPER_TEMPERATURE, kd_mode="bernoulli", scale_t2=False
):
    """A Distiller that trains the assistant T2 on the student's view.

    ``"parallel"``: labels only (no teacher). ``"sequential"``: distilled from ``teacher`` (T1)
    with weight ``1 - alpha`` (``kd_mode``/``scale_t2`` as in ``LogitDistillation``). Compile it with
    ``supervised_weight=alpha`` (sequential) or 1 (parallel) and ``fit`` it like any Distiller; the
    trained network is ``assistant``.
    """
    if mode not in MODES:
        raise ValueError(f"MLKD mode {mode!r} is not one of {MODES}")
    if mode == "parallel":
        return Distiller(assistant, [])
    return Distiller(
        assistant, teacher, [LogitDistillation(1 - alpha, temperature, kd_mode, scale_t2=scale_t2, name="kd_teacher1")]
    )


def mlkd_distiller(
    student,
    teacher,
    assistant,
    alpha=PAPER_ALPHA,
    temperature=PAPER_TEMPERATURE,
    teacher_weights=PAPER_TEACHER_WEIGHTS,
    mode="bernoulli",
    scale_t2=False,
):
    """The MLKD Distiller: ``teacher`` reads the ``"teacher"`` view, ``assistant`` the ``"student"`` view.

    Compile it with ``supervised_weight=alpha``.
    """
    if assistant.num_leads != student.num_leads:
        raise ValueError(
            f"the assistant reads {assistant.num_leads} leads; it must read the student's {student.num_leads}"
        )
    terms = multilevel_terms(alpha, temperature, teacher_weights, mode, scale_t2)
    return Distiller(student, [teacher, assistant], terms, teacher_views=["teacher", "student"])
