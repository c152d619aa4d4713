"""``tf.data`` pipelines over a ``SignalCache``: for the same records, the teacher's view (all its
leads), the student's view (its lead subset) and the labels.

Each element is ``(inputs, labels)``:
    inputs: ``{"teacher": (B, W, Ct), "student": (B, W, Cs)}`` float32, plus
        ``"demographics": (B, 5)`` when asked for, and ``"record": (B,)`` int64 cache rows in
        sliding-window evaluation (to aggregate windows per record);
    labels: float32 (B, K); NaN everywhere for unlabelled data, so nothing can learn from it.
With ``view="teacher"`` or ``view="student"`` the inputs are that one array (or
``(signal, demographics)``), ready for ``model.fit`` of a single network.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np
import tensorflow as tf

from data_utils.beats import beat_profiles
from data_utils.leads import resolve_leads
from data_utils.preprocess import stride_samples, window_starts


class ECGPipeline:
    """Builds batches from a cache for a teacher/student pair of lead sets.

    Args:
        cache: ``SignalCache``; it must hold every lead of both sets.
        teacher_leads, student_leads: lead specifications (see ``resolve_leads``); the student's
            default is the teacher's.
        window_seconds: window length; W = round(window_seconds * cache.fs) samples. Shorter
            records are zero-padded at the end.
        demographics: add the (B, 5) age/sex encoding to the inputs.
        augmentation: a ``data_utils.augment.Augmentation`` applied to training windows (all leads
            at once, before the views are taken), or None.
        beats: add ``"beats"`` (B, W) to training inputs: the ``data_utils.beats.beat_profiles`` of
            each window, found on the teacher's leads after augmentation (for LiteHeart's region term).
    """

    def __init__(
        self,
        cache,
        teacher_leads=12,
        student_leads=None,
        window_seconds=10.0,
        demographics=False,
        augmentation=None,
        beats=False,
    ):
        self.cache = cache
        self.teacher_leads = resolve_leads(teacher_leads)
        self.student_leads = resolve_leads(student_leads) if student_leads is not None else self.teacher_leads
        missing = [lead for lead in self.teacher_leads + self.student_leads if lead not in cache.leads]
        if missing:
            raise ValueError(
                f"the cache holds leads {', '.join(cache.leads)}; it lacks {', '.join(dict.fromkeys(missing))}"
            )
        self.window = int(round(window_seconds * cache.fs))
        if self.window < 1:
            raise ValueError(f"window of {window_seconds} s at {cache.fs} Hz has no samples")
        self.demographics, self.augmentation, self.beats = demographics, augmentation, beats
        self._teacher_columns = [cache.leads.index(lead) for lead in self.teacher_leads]
        self._student_columns = [cache.leads.index(lead) for lead in self.student_leads]

    @property
    def num_classes(self):
        return len(self.cache.classes)

    def train(
        self,
        indices,
        batch_size=64,
        seed=0,
        view=None,
        unlabeled=False,
        drop_remainder=False,
        augment=True,
        weights=None,
        rows_per_epoch=None,
    ):
        """Shuffled batches with one random crop per record per epoch (reproducible for a seed).

        Args:
            indices: cache rows to draw from.
            view: None (both views in a dict), ``"teacher"`` or ``"student"``.
            unlabeled: replace labels by NaN.
            augment: apply the pipeline's ``augmentation`` (if it has one).
            weights: None (every row once per epoch), or one non-negative chance per row of
                ``indices`` (``data_utils.splits.class_balance_weights``): each epoch then draws
                ``rows_per_epoch`` rows (default ``len(indices)``) with replacement in proportion to
                them, a new draw every epoch.
        """
        indices = self._check_indices(indices)
        if weights is None:
            rows = tf.data.Dataset.from_tensor_slices(indices)
            rows = rows.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
        else:
            rows = weighted_rows(indices, weights, rows_per_epoch or len(indices), seed)
        draws = tf.data.Dataset.random(seed=seed)
        batches = tf.data.Dataset.zip((rows, draws)).batch(batch_size, drop_remainder=drop_remainder)
        load = self._loader(random_crop=True, unlabeled=unlabeled, augment=augment)
        return self._finish(batches.map(load, num_parallel_calls=tf.data.AUTOTUNE), view)

    def semi_supervised(
        self,
        labeled,
        unlabeled,
        batch_size=64,
        unlabeled_batch_size=None,
        seed=0,
        view=None,
        labeled_batch_size=None,
        labeled_weights=None,
    ):
        """Batches of labelled rows followed by unlabelled rows (labels NaN), for semi-supervised training.

        One epoch is one pass over ``unlabeled`` (``unlabeled_batch_size`` rows per batch, default
        ``batch_size``), the labelled rows cycling alongside (``labeled_batch_size`` per batch,
        default ``batch_size``; never more than there are; drawn by ``labeled_weights`` as ``train``
        draws by ``weights``, when given); with no unlabelled rows it is ``train(labeled)``.
        ``data_utils.splits.labeled_split`` makes the two index sets from a labelled fraction.
        Returns a ``tf.data.Dataset`` like ``train``.
        """
        if len(unlabeled) == 0:
            return self.train(labeled, batch_size, seed, view, weights=labeled_weights)
        if len(labeled) == 0:
            raise ValueError("semi-supervised batches need at least one labelled row")
        labeled_batches = self.train(
            labeled,
            min(labeled_batch_size or batch_size, len(labeled)),
            seed,
            view=None,
            drop_remainder=True,
            weights=labeled_weights,
        ).repeat()
        unlabeled_batches = self.train(
            unlabeled, unlabeled_batch_size or batch_size, seed + 1, view=None, unlabeled=True
        )

        def join(first, second):
            (inputs, labels), (more, no_labels) = first, second
            return {key: tf.concat([inputs[key], more[key]], 0) for key in inputs}, tf.concat([labels, no_labels], 0)

        joined = tf.data.Dataset.zip((labeled_batches, unlabeled_batches)).map(join)
        return self._finish(joined, view)

    def evaluate(self, indices, batch_size=64, crop="start", stride_seconds=None, view=None, unlabeled=False):
        """Batches in index order, one deterministic window per record, or sliding windows.

        Args:
            crop: ``"start"``, ``"center"`` or ``"sliding"``. Sliding windows (stride
                ``stride_seconds``, default half a window, as ``predict`` cuts them) cover each record
                to its end; the inputs then carry ``"record"`` (the cache row of each window) for
                ``aggregate_windows``.
        """
        indices = self._check_indices(indices)
        if crop == "sliding":
            stride = stride_samples(self.window, self.cache.fs, stride_seconds)
            pairs = [
                (row, start)
                for row in indices
                for start in window_starts(int(self.cache.lengths[row]), self.window, stride)
            ]
            rows, starts = (np.asarray(column, dtype=np.int64) for column in zip(*pairs))
        elif crop in ("start", "center"):
            rows = indices
            extra = np.maximum(self.cache.lengths[rows] - self.window, 0)
            starts = (extra // 2 if crop == "center" else np.zeros_like(extra)).astype(np.int64)
        else:
            raise ValueError(f"crop {crop!r} is not one of 'start', 'center', 'sliding'")
        batches = tf.data.Dataset.from_tensor_slices((rows, starts)).batch(batch_size)
        loaded = batches.map(self._loader(random_crop=False, unlabeled=unlabeled), num_parallel_calls=tf.data.AUTOTUNE)
        return self._finish(loaded, view, keep_record=crop == "sliding")

    def _check_indices(self, indices):
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size == 0:
            raise ValueError("no records to build a pipeline from")
        if indices.min() < 0 or indices.max() >= len(self.cache):
            raise ValueError(f"indices must lie in [0, {len(self.cache)}), got {indices.min()}..{indices.max()}")
        return indices

    def _load_numpy(self, rows, draws_or_starts, random_crop, unlabeled, augment=False):
        """rows (B,), starts or random draws (B,) -> teacher, student, demographics, labels, rows, beats
        ((B, W) beat profiles of training windows when the pipeline has ``beats``, else (B, 0)).

        Augmentation draws from a generator seeded by the batch's rows and random draws: reproducible
        for a seed, and new in each epoch (the rows are shuffled anew).
        """
        window, cache = self.window, self.cache
        signals = np.zeros((len(rows), window, len(cache.leads)), dtype=np.float32)
        for i, (row, value) in enumerate(zip(rows, draws_or_starts)):
            length = int(cache.lengths[row])
            start = (
                int(value % (length - window + 1))
                if random_crop and length > window
                else (0 if random_crop else int(value))
            )
            part = cache.signal(row)[start : start + window]
            signals[i, : part.shape[0]] = part
        if augment and random_crop and self.augmentation is not None:
            rng = np.random.default_rng([*np.asarray(draws_or_starts).view(np.uint64), *rows.astype(np.uint64)])
            signals = self.augmentation.apply(signals, cache.fs, rng)
        labels = np.full((len(rows), len(cache.classes)), np.nan, np.float32) if unlabeled else cache.labels[rows]
        teacher = signals[:, :, self._teacher_columns]
        with_beats = self.beats and random_crop
        beats = beat_profiles(teacher, cache.fs) if with_beats else np.zeros((len(rows), 0), np.float32)
        return (
            teacher,
            signals[:, :, self._student_columns],
            cache.demographics[rows],
            labels,
            rows.astype(np.int64),
            beats,
        )

    def _loader(self, random_crop, unlabeled, augment=False):
        def load(rows, values):
            teacher, student, demographics, labels, record, beats = tf.numpy_function(
                lambda r, v: self._load_numpy(r, v, random_crop, unlabeled, augment),
                [rows, values],
                [tf.float32, tf.float32, tf.float32, tf.float32, tf.int64, tf.float32],
                stateful=False,
            )
            teacher.set_shape([None, self.window, len(self.teacher_leads)])
            student.set_shape([None, self.window, len(self.student_leads)])
            demographics.set_shape([None, 5])
            labels.set_shape([None, self.num_classes])
            record.set_shape([None])
            inputs = {"teacher": teacher, "student": student, "demographics": demographics, "record": record}
            if self.beats and random_crop:
                beats.set_shape([None, self.window])
                inputs["beats"] = beats
            return inputs, labels

        return load

    def _finish(self, dataset, view, keep_record=False):
        if view not in (None, "teacher", "student"):
            raise ValueError(f"view {view!r} is not one of None, 'teacher', 'student'")

        def select(inputs, labels):
            if view is None:
                keys = (
                    ["teacher", "student"]
                    + (["demographics"] if self.demographics else [])
                    + (["record"] if keep_record else [])
                    + (["beats"] if "beats" in inputs else [])
                )
                return {key: inputs[key] for key in keys}, labels
            if self.demographics:
                return (inputs[view], inputs["demographics"]), labels
            return inputs[view], labels

        return dataset.map(select).prefetch(tf.data.AUTOTUNE)


ROW_SEED_OFFSET = 1_000_003  # weighted row draws and crop draws of one seed come from different streams


def weighted_rows(indices, weights, count, seed):
    """A dataset of ``count`` rows of ``indices`` drawn with replacement in proportion to ``weights``,
    a new draw each time it is iterated (each epoch), the same sequence of draws for a seed."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != indices.shape or not np.all(np.isfinite(weights)) or weights.min() < 0 or weights.sum() <= 0:
        raise ValueError(f"weights must be {len(indices)} finite non-negative chances, one per row, not all 0")
    if int(count) < 1:
        raise ValueError(f"rows_per_epoch must be a positive count, not {count}")
    cdf = tf.constant(np.cumsum(weights) / weights.sum())
    table = tf.constant(indices)

    def pick(value):
        uniform = tf.cast(value % 2**32, tf.float64) / 2**32
        position = tf.searchsorted(cdf, tf.reshape(uniform, [1]), side="right")[0]
        return tf.gather(table, tf.minimum(position, len(indices) - 1))

    draws = tf.data.Dataset.random(seed=seed + ROW_SEED_OFFSET, rerandomize_each_iteration=True)
    return draws.take(int(count)).map(pick)


def aggregate_windows(probabilities, records):
    """Mean of window outputs per record.

    Args:
        probabilities: (M, K) outputs of M windows; records: (M,) cache row of each window.
    Returns:
        ``(rows, (R, K) means)`` for the R distinct rows, in order of first appearance.
    """
    records = np.asarray(records)
    rows, first, inverse = np.unique(records, return_index=True, return_inverse=True)
    sums = np.zeros((len(rows), np.shape(probabilities)[1]))
    np.add.at(sums, inverse, probabilities)
    means = sums / np.bincount(inverse)[:, None]
    order = np.argsort(first)
    return rows[order], means[order]
