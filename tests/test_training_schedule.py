"""Training that converges: the cosine schedule with warm-up, early stopping on validation, epochs
scored with a moving average of the weights (``--weight-average``), and feature alignment by average
pooling (every student step gets a gradient)."""

import types

import numpy as np
import pytest
import tensorflow as tf

from lrhnet import training
from lrhnet.terms import align_length
from lrhnet.training import SelectOnValidation, cosine_rate


def test_cosine_rate_by_hand():
    rates = [cosine_rate(epoch, 4, initial=1.0) for epoch in range(4)]  # no warm-up under 10 epochs
    np.testing.assert_allclose(rates, [1.0, 0.5 * (1 + np.cos(np.pi / 4)), 0.5, 0.5 * (1 + np.cos(3 * np.pi / 4))])
    assert cosine_rate(0, 10, initial=1.0) == pytest.approx(0.5)  # 10 epochs: 1 warm-up epoch (half up)
    assert cosine_rate(0, 40, initial=2.0) == pytest.approx(2.0 / 3)  # 2 warm-up epochs
    assert cosine_rate(39, 40, initial=2.0) == pytest.approx(2.0 * 0.5 * (1 + np.cos(np.pi * 37 / 38)))


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience(monkeypatch):
    scores = iter([0.60, 0.70, 0.65, 0.69, 0.68, 0.90])
    monkeypatch.setattr(training, "predict_probabilities", lambda *args: (np.zeros((2, 1)), np.zeros((2, 1))))
    monkeypatch.setattr(training, "score", lambda *args: {"macro_auroc": next(scores)})
    network = types.SimpleNamespace(get_weights=lambda: "weights")
    selector = SelectOnValidation(network, validation_data=None, classes=("a",), patience=3)
    selector.model = types.SimpleNamespace(stop_training=False)
    for epoch in range(6):
        selector.on_epoch_end(epoch, {})
        if selector.model.stop_training:
            break
    assert (selector.best_epoch, selector.best_score, selector.last_epoch, epoch) == (1, 0.70, 4, 4)
    assert selector.model.stop_training


def test_average_pooling_alignment_reaches_every_step():
    features = tf.Variable(np.random.default_rng(0).normal(size=(2, 250, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        pooled = align_length(features, 32)
        total = tf.reduce_sum(pooled * np.arange(1, 33, dtype=np.float32)[None, :, None])
    gradient = tape.gradient(total, features).numpy()
    assert pooled.shape == (2, 32, 3) and np.all(gradient != 0), "every one of the 250 steps gets a gradient"
    eight = np.arange(8, dtype=np.float32).reshape(1, 8, 1)
    np.testing.assert_allclose(align_length(tf.constant(eight), 4).numpy()[0, :, 0], [0.5, 2.5, 4.5, 6.5])
    assert align_length(tf.constant(eight), 16).shape == (1, 16, 1)  # lengthening interpolates
    dynamic = tf.function(lambda x: align_length(x, 4), input_signature=[tf.TensorSpec((1, None, 1))])
    np.testing.assert_allclose(dynamic(tf.constant(eight)).numpy()[0, :, 0], [0.5, 2.5, 4.5, 6.5])


def test_epochs_are_scored_and_kept_with_the_moving_average_of_the_weights():
    import tf_keras as keras

    from lrhnet.distiller import Distiller
    from lrhnet.networks import LRHNet
    from lrhnet.training import paper_optimizer

    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(24, 256, 1)).astype(np.float32)
    labels = (rng.random((24, 2)) < 0.5).astype(np.float32)
    batches = tf.data.Dataset.from_tensor_slices(({"student": inputs}, labels)).batch(8)  # 3 steps an epoch
    validation = tf.data.Dataset.from_tensor_slices(
        (
            {"student": rng.normal(size=(200, 256, 1)).astype(np.float32)},
            (rng.random((200, 2)) < 0.5).astype(np.float32),
        )
    ).batch(50)
    keras.utils.set_random_seed(0)
    network = LRHNet(1, 2, width=0.25)
    distiller = Distiller(network, [], [])
    distiller.compile(optimizer=paper_optimizer(0.01, weight_average=0.5), supervised_weight=1.0)

    def trainable():
        return [variable.numpy() for variable in network.trainable_variables]

    seen = {"steps": [trainable()], "statistics": []}  # trainable weights at the start and after every step
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen["steps"].append(trainable()))

    def after_scoring(epoch, logs):
        seen["after"], seen["statistics"] = trainable(), [v.numpy() for v in network.non_trainable_variables]

    def validation_score(weights):
        for variable, value in zip(network.trainable_variables, weights):
            variable.assign(value)
        probabilities, truth = training.predict_probabilities(network, validation)
        rule = training.tune_decision_rule(truth, probabilities, ("a", "b"))
        return training.score(truth, probabilities, rule, ("a", "b"))["macro_auroc"]

    selector = SelectOnValidation(network, validation, ("a", "b"))
    callbacks = [record, selector, keras.callbacks.LambdaCallback(on_epoch_end=after_scoring)]
    distiller.fit(batches, epochs=1, verbose=0, callbacks=callbacks)
    average = seen["steps"][0]
    for step in seen["steps"][1:]:
        average = [0.5 * a + 0.5 * w for a, w in zip(average, step)]
    assert len(seen["steps"]) == 4 and not np.allclose(average[0], seen["steps"][-1][0])
    for after, before in zip(seen["after"], seen["steps"][-1]):  # scoring left the weights training goes on from
        np.testing.assert_array_equal(after, before)
    for final, expected in zip(trainable(), average):  # the best (only) epoch's average is restored
        np.testing.assert_allclose(final, expected, rtol=1e-5, atol=1e-6)
    for final, statistic in zip(network.non_trainable_variables, seen["statistics"]):  # BN statistics: its own
        np.testing.assert_array_equal(final.numpy(), statistic)
    assert selector.best_score == pytest.approx(validation_score(average), abs=1e-9)  # what was scored
    assert abs(validation_score(seen["steps"][-1]) - selector.best_score) > 1e-4  # the weights themselves score apart


@pytest.mark.parametrize("momentum", [0.0, 1.0, -0.5, float("nan")])
def test_a_weight_average_outside_zero_to_one_is_refused(momentum, capsys):
    with pytest.raises(ValueError, match="weight_average must lie in"):
        training.paper_optimizer(weight_average=momentum)
    if momentum != 0:  # the flag's 0 is off
        from kdpipeline.options import parse_args

        with pytest.raises(SystemExit) as exit_:
            parse_args(["--weight-average", str(momentum)])
        assert exit_.value.code == 2 and "--weight-average must lie in [0, 1)" in capsys.readouterr().err


class Called(Exception):
    """Raised by ``called`` in place of a training call; ``args[0]`` holds its keyword arguments."""


def called(*args, **kwargs):
    raise Called(kwargs)


def test_train_py_stages_pass_the_weight_average_flag_and_a_stage_can_switch_it_off(monkeypatch):
    from kdpipeline import stages
    from kdpipeline.options import parse_args

    monkeypatch.setattr(stages, "fit_network", called)
    run = types.SimpleNamespace(path=lambda *parts: "/".join(parts))
    for flags, override, expected in (([], {}, None), (["--weight-average", "0.99"], {}, 0.99)) + (
        (["--weight-average", "0.99"], {"weight_average": None}, None),  # as the prune stage does
    ):
        ctx = types.SimpleNamespace(args=parse_args(flags), run=run, pipeline=None, split=None, stage="student")
        ctx.classes, ctx.multilabel = ("a",), True
        with pytest.raises(Called) as fitted:
            stages.train_and_record(ctx, network=None, name="student", train_data="batches", **override)
        assert fitted.value.args[0]["weight_average"] == expected


def test_the_prune_and_qat_stages_fine_tune_without_the_weight_average(monkeypatch):
    import lrhnet.compress
    import lrhnet.twin
    from kdpipeline import compression
    from kdpipeline.options import parse_args

    for name, value in {
        "deployed_name": lambda ctx: "student_kd",
        "teacher_terms": lambda ctx: {"teachers": [], "terms": [], "rows": "labeled"},
        "batches_per_epoch": lambda ctx, rows: 10,
        "training_batches": lambda ctx, rows: "batches",
        "train_and_record": called,
        "fit_network": called,
    }.items():
        monkeypatch.setattr(compression, name, value)
    monkeypatch.setattr(lrhnet.compress, "prune_layers", lambda *args, **kwargs: None)
    for name in ("student_twin", "quantize_twin"):
        monkeypatch.setattr(lrhnet.twin, name, lambda *args, **kwargs: None)
    monkeypatch.setattr(lrhnet.twin, "GraphNetwork", lambda *args, **kwargs: None)
    source = types.SimpleNamespace(num_leads=1, num_classes=2, demographics=False)
    run = types.SimpleNamespace(
        load_model=lambda name: source, model_path=lambda name: "/no/such/file", path=lambda *parts: "/".join(parts)
    )
    flags = ["--weight-average", "0.99", "--quantize", "qat"]
    ctx = types.SimpleNamespace(args=parse_args(flags), run=run, pipeline=types.SimpleNamespace(window=256))
    ctx.split, ctx.classes, ctx.multilabel = None, ("a", "b"), True
    for stage in (compression.prune_stage, compression.quantize_stage):
        with pytest.raises(Called) as fitted:
            stage(ctx)
        assert "weight_average" in fitted.value.args[0] and fitted.value.args[0]["weight_average"] is None


def test_runs_made_before_the_weight_average_flag_resume_as_made_without_it():
    from kdpipeline.options import parse_args
    from kdpipeline.runner import changed_flags, run_config

    config = run_config(parse_args([]))
    earlier = {key: value for key, value in config.items() if key != "weight_average"}
    assert changed_flags(earlier, config) == []
    assert changed_flags(earlier, run_config(parse_args(["--weight-average", "0.99"]))) == ["weight_average"]
