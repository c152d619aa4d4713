"""``TeacherEnsemble``: the mean of its members' probabilities, saved and loaded, distilled from with logit KD only."""

import numpy as np
import pytest
import tensorflow as tf

from lrhnet import Distiller, FeatureDistillation, LogitDistillation, LRHNet, SEResNet1D
from lrhnet.ensemble import TeacherEnsemble
from lrhnet.saving import load_network

SIGNAL = np.random.default_rng(0).normal(size=(3, 200, 2)).astype("float32")


def trained_members(count=2, classes=4, seed=0):
    """Members with random weights, marked as trained (``looks_untrained`` reads ``steps_trained``)."""
    tf.random.set_seed(seed)
    members = [SEResNet1D(2, classes, width=0.25, name=f"member{index}") for index in range(count)]
    for member in members:
        member(SIGNAL)
        member.steps_trained.assign(1)
    return members


@pytest.mark.parametrize("multilabel", [True, False])
def test_the_ensemble_gives_the_mean_of_its_members_probabilities(multilabel):
    members = trained_members(3)
    activation = tf.sigmoid if multilabel else tf.nn.softmax
    expected = np.mean([activation(member(SIGNAL)).numpy() for member in members], axis=0)
    ensemble = TeacherEnsemble(members, multilabel=multilabel)
    np.testing.assert_allclose(activation(ensemble(SIGNAL)).numpy(), expected, atol=1e-5)
    logits, features = ensemble.forward(SIGNAL)
    assert logits.shape == (3, 4) and features == []


def test_the_ensemble_counts_its_members_weights_as_its_own():
    from lrhnet.efficiency import trainable_parameters

    members = trained_members(2)
    ensemble = TeacherEnsemble(members, multilabel=True)
    assert trainable_parameters(ensemble) == sum(trainable_parameters(member) for member in members) > 0


def test_copies_of_one_network_make_an_ensemble_equal_to_it():
    (member,) = trained_members(1)
    ensemble = TeacherEnsemble([member, member], multilabel=True)
    np.testing.assert_allclose(tf.sigmoid(ensemble(SIGNAL)), tf.sigmoid(member(SIGNAL)), atol=1e-5)


def test_a_saved_ensemble_loads_with_its_members_weights(tmp_path):
    ensemble = TeacherEnsemble(trained_members(2), multilabel=False)
    path = str(tmp_path / "ensemble.keras")
    ensemble.save(path)
    loaded = load_network(path)
    assert isinstance(loaded, TeacherEnsemble) and not loaded.multilabel and len(loaded.members) == 2
    np.testing.assert_allclose(loaded(SIGNAL).numpy(), ensemble(SIGNAL).numpy(), atol=1e-5)
    assert int(loaded.steps_trained.numpy()) == 1


def test_the_distiller_trains_the_student_alone_from_an_ensemble():
    members = trained_members(2)
    before = [(weight, weight.numpy().copy()) for member in members for weight in member.weights]
    student = LRHNet(1, 4)
    distiller = Distiller(student, TeacherEnsemble(members, multilabel=True), [LogitDistillation(0.7)])
    distiller.compile(optimizer="adam", supervised_weight=0.3)
    history = distiller.fit({"teacher": SIGNAL, "student": SIGNAL[:, :, :1]}, np.ones((3, 4), "float32"), verbose=0)
    assert np.isfinite(history.history["logit_kd"][0]) and history.history["logit_kd"][0] > 0
    assert all(np.array_equal(weight.numpy(), value) for weight, value in before), "the members stay frozen"


def test_feature_terms_refuse_an_ensemble():
    with pytest.raises(ValueError, match="teacher 0 has 0"):
        Distiller(LRHNet(1, 4), TeacherEnsemble(trained_members(2), multilabel=True), [FeatureDistillation(1.0)])


@pytest.mark.parametrize(
    "members, message",
    [
        (lambda: trained_members(1), "at least two members"),
        (lambda: [*trained_members(1), SEResNet1D(2, 5, width=0.25)], "same leads and give the same classes"),
    ],
)
def test_bad_members_are_refused(members, message):
    with pytest.raises(ValueError, match=message):
        TeacherEnsemble(members(), multilabel=True)


def test_an_untrained_member_makes_the_distiller_warn():
    members = trained_members(2)
    members[1].steps_trained.assign(0)
    with pytest.warns(UserWarning, match="never been trained"):
        Distiller(LRHNet(1, 4), TeacherEnsemble(members, multilabel=True), [LogitDistillation(0.7)])
