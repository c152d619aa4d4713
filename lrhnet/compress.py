"""Magnitude pruning of a trained network with TFMOT, inside our subclassed models.

TFMOT's ``prune_low_magnitude`` refuses subclassed models, and its ``UpdatePruningStep`` and
``strip_pruning`` only look one model deep. So ``prune_layers`` wraps each ``Conv1D`` and ``Dense``
wherever it sits in the network (blocks, lists of blocks), ``UpdatePruningStep`` here finds the
wrappers at any depth (also inside a ``Distiller``), and ``strip_pruning`` puts the pruned layers
back. Fine-tune with any ``Distiller`` (distillation still on) and this callback.
"""

import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow.python.trackable.data_structures import ListWrapper
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import PruneLowMagnitude

PRUNABLE = (keras.layers.Conv1D, keras.layers.Dense)


def _replace_layers(owner, kind, make):
    """Replace every ``kind`` layer held by ``owner`` (as an attribute or in a list) by ``make(layer)``."""
    for name, value in list(vars(owner).items()):
        if name.startswith("_"):
            continue
        if isinstance(value, kind):
            setattr(owner, name, make(value))
        elif isinstance(value, keras.layers.Layer) and not isinstance(value, PruneLowMagnitude):
            _replace_layers(value, kind, make)
        elif isinstance(value, (list, ListWrapper)):
            _replace_in_list(value, kind, make)


def _replace_in_list(items, kind, make):
    for index, item in enumerate(items):
        if isinstance(item, kind):
            items[index] = make(item)
        elif isinstance(item, (list, ListWrapper)):
            _replace_in_list(item, kind, make)
        elif isinstance(item, keras.layers.Layer) and not isinstance(item, PruneLowMagnitude):
            _replace_layers(item, kind, make)


def prune_layers(network, target_sparsity, end_step, begin_step=0, frequency=None):
    """Wrap the network's ``Conv1D`` and ``Dense`` layers for magnitude pruning, in place.

    The sparsity of each wrapped kernel rises from 0 at ``begin_step`` to ``target_sparsity`` at
    ``end_step`` along TFMOT's cubic ``PolynomialDecay``, masks updated every ``frequency`` steps
    (default: a tenth of the ramp). Biases are not pruned. The network is run once so that the
    wrappers are built before ``fit``. Returns the network.
    """
    if not 0 < target_sparsity < 1:
        raise ValueError(f"target sparsity must lie in (0, 1), not {target_sparsity}")
    if end_step <= begin_step:
        raise ValueError(f"end_step ({end_step}) must come after begin_step ({begin_step})")
    frequency = frequency or max(1, (end_step - begin_step) // 10)
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        0.0, target_sparsity, begin_step=begin_step, end_step=end_step, frequency=frequency
    )
    _replace_layers(
        network, PRUNABLE, lambda layer: tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
    )
    network(network.example_inputs(), training=False)
    return network


def strip_pruning(network):
    """Remove the pruning wrappers, in place, keeping the pruned (zeroed) kernels. Returns the network."""
    _replace_layers(network, PruneLowMagnitude, lambda wrapper: wrapper.layer)
    return network


def pruning_wrappers(model):
    """Every pruning wrapper inside ``model``, at any depth."""
    return [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, PruneLowMagnitude)]


class UpdatePruningStep(tfmot.sparsity.keras.UpdatePruningStep):
    """TFMOT's callback, finding the wrappers at any depth (inside blocks, students, Distillers)."""

    def on_train_begin(self, logs=None):
        self.prunable_layers = pruning_wrappers(self.model)
        if self.prunable_layers and int(self.prunable_layers[0].pruning_step.numpy()) == -1:
            keras.backend.batch_set_value([(layer.pruning_step, 0) for layer in self.prunable_layers])


def kernel_sparsity(network):
    """Measured sparsity of the prunable kernels.

    Returns:
        ``(overall fraction of zero kernel weights, [(layer path, fraction), ...])``.
    """
    kernels = [(path, layer.kernel) for path, layer in _prunable_with_paths(network, network.name)]
    if not kernels:
        raise ValueError(f"{network.name} has no built Conv1D or Dense kernels")
    per_layer = [(path, float((kernel.numpy() == 0).mean())) for path, kernel in kernels]
    sizes = [int(kernel.shape.num_elements()) for _, kernel in kernels]
    return sum(fraction * size for (_, fraction), size in zip(per_layer, sizes)) / sum(sizes), per_layer


def _prunable_with_paths(layer, path):
    for child in layer._flatten_layers(include_self=False, recursive=False):
        inner = child.layer if isinstance(child, PruneLowMagnitude) else child
        child_path = f"{path}/{inner.name}"
        if isinstance(inner, PRUNABLE) and getattr(inner, "kernel", None) is not None:
            yield child_path, inner
        else:
            yield from _prunable_with_paths(inner, child_path)
