"""The backend mechanics of a training step, in one place: gradients on
TensorFlow, JAX and PyTorch.

Taught in `notebooks/09_one_gan_three_backends.ipynb`, which writes the same
step for each backend by hand before using these.

`GAN.train_step` and `VAE.train_step` read as the algorithm ("compute the
loss, take its gradient with respect to D's weights, let D's optimizer step")
and call three functions from here for the parts every backend does its own
way:

- `losses_and_gradients(loss_fn, variable_groups)`: run ``loss_fn`` once and
  return the gradient of its i-th loss with respect to the i-th group of
  variables. TensorFlow records the forward pass on a `tf.GradientTape`;
  PyTorch builds its autograd graph and `torch.autograd.grad` walks it back;
  JAX differentiates a *pure function* of the weights with `jax.vjp`.
- `input_gradients(fn, inputs)`: the gradient of ``sum(fn(inputs))`` with
  respect to the inputs, differentiable again (WGAN-GP's penalty).
- `stateless_train_step(model, state, step_fn)`: JAX only. Keras gives a JAX
  ``train_step`` the model's state as arrays and expects the new state back,
  because a jitted JAX function cannot change anything in place. Running the
  ordinary step inside a `keras.StatelessScope` makes every variable read
  return the value passed in and every ``assign`` (optimizer updates, batch
  statistics, seed generators, metrics) record its new value in the scope,
  from where it is returned.

Updates go through the optimizer's own ``scale_loss`` and ``apply``: the loss
is multiplied by the loss scale before differentiation (1 for a plain
optimizer; a `LossScaleOptimizer`'s dynamic scale under mixed precision) and
``apply`` divides the gradients by it again.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras

BACKENDS = ("tensorflow", "jax", "torch")


def backend() -> str:
    """The Keras backend in use (``KERAS_BACKEND``, fixed when Keras is imported)."""
    return keras.backend.backend()


def losses_and_gradients(loss_fn: Callable, variable_groups: Sequence[Sequence]) -> tuple:
    """Run ``loss_fn()`` once and differentiate each loss it returns.

    Args:
        loss_fn: a function of no arguments returning ``(losses, aux)``:
            a tuple with one scalar loss per group of variables, and any
            other tensors wanted from the same forward pass (logits, for
            metrics). It reads the model's variables as usual.
        variable_groups: one list of `keras.Variable` per loss.

    Returns:
        ``(losses, aux, gradients)`` with ``gradients[i]`` the gradient of
        ``losses[i]`` with respect to ``variable_groups[i]``.
    """
    name = backend()
    if name == "tensorflow":
        return _tensorflow_gradients(loss_fn, variable_groups)
    if name == "jax":
        return _jax_gradients(loss_fn, variable_groups)
    if name == "torch":
        return _torch_gradients(loss_fn, variable_groups)
    raise RuntimeError(f"gan_keras trains on the backends {list(BACKENDS)}; KERAS_BACKEND is {name!r}")


def _tensorflow_gradients(loss_fn, variable_groups):
    import tensorflow as tf

    # Persistent: one recorded forward pass, one gradient per loss.
    with tf.GradientTape(persistent=True) as tape:
        losses, aux = loss_fn()
    gradients = []
    for loss, group in zip(losses, variable_groups):
        grads = tape.gradient(loss, list(group))
        # A weight the loss does not depend on gets a zero gradient, as on JAX and PyTorch.
        gradients.append([tf.zeros_like(v) if g is None else g for v, g in zip(group, grads)])
    del tape
    return losses, aux, gradients


def _torch_gradients(loss_fn, variable_groups):
    import torch

    losses, aux = loss_fn()
    gradients = []
    for index, (loss, group) in enumerate(zip(losses, variable_groups)):
        tensors = [variable.value for variable in group]
        # Keep the graph until the last loss has been walked back.
        keep = index < len(losses) - 1
        grads = torch.autograd.grad(loss, tensors, retain_graph=keep, allow_unused=True)
        # A weight the loss does not depend on gets a zero gradient, as on JAX.
        gradients.append([torch.zeros_like(t) if g is None else g for t, g in zip(tensors, grads)])
    return losses, aux, gradients


def _jax_gradients(loss_fn, variable_groups):
    import jax

    outer = keras.src.backend.common.stateless_scope.get_stateless_scope()
    if outer is None:
        raise RuntimeError("on JAX, gradients are taken inside `stateless_train_step`")
    differentiated = [variable for group in variable_groups for variable in group]
    differentiated_ids = {id(variable) for variable in differentiated}
    # Everything else the step may change while computing the loss (batch
    # statistics, seed generators) comes back as an output of the pure function.
    others = [variable for variable in outer.tracked_variables if id(variable) not in differentiated_ids]

    def pure_loss(group_values):
        mapping = [(variable, outer.get_current_value(variable)) for variable in others]
        for group, values in zip(variable_groups, group_values):
            mapping += list(zip(group, values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            losses, aux = loss_fn()
        updated = [scope.get_current_value(variable) for variable in others]
        return tuple(losses), (aux, updated)

    current = [[outer.get_current_value(variable) for variable in group] for group in variable_groups]
    losses, pullback, (aux, updated) = jax.vjp(pure_loss, current, has_aux=True)
    gradients = []
    for index in range(len(losses)):
        # Pull back a one-hot cotangent: d losses[index] / d all weights.
        cotangent = tuple(jax.numpy.ones_like(loss) if i == index else jax.numpy.zeros_like(loss)
                          for i, loss in enumerate(losses))
        (all_groups,) = pullback(cotangent)
        gradients.append(all_groups[index])
    for variable, value in zip(others, updated):
        variable.assign(value)
    return losses, aux, gradients


def input_gradients(fn: Callable, inputs):
    """The gradient of ``sum(fn(inputs))`` with respect to `inputs`, kept
    differentiable (so a loss may depend on it, as WGAN-GP's penalty does).

    Args:
        fn: a function of one tensor, e.g. ``lambda x: critic(x)``.
        inputs: the tensor to differentiate at.

    Returns:
        A tensor shaped like `inputs`.
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = fn(inputs)
        return tape.gradient(outputs, inputs)
    if name == "jax":
        import jax

        return jax.grad(lambda x: keras.ops.sum(fn(x)))(inputs)
    if name == "torch":
        import torch

        inputs = inputs.detach().requires_grad_(True)
        outputs = fn(inputs)
        # create_graph: the penalty is itself differentiated for D's update.
        (gradients,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
        return gradients
    raise RuntimeError(f"gan_keras trains on the backends {list(BACKENDS)}; KERAS_BACKEND is {name!r}")


def apply_update(optimizer: keras.optimizers.Optimizer, gradients, variables) -> None:
    """One optimizer step (outside any autograd recording on PyTorch)."""
    if backend() == "torch":
        import torch

        with torch.no_grad():
            optimizer.apply(gradients, variables)
    else:
        optimizer.apply(gradients, variables)


class OptimizerPair:
    """Two optimizers shown to Keras as one ``model.optimizer``.

    A GAN has one optimizer per network. Keras' JAX trainer passes
    ``model.optimizer.variables`` in and out of every step, so a GAN sets
    its ``optimizer`` to this pair: both optimizers' variables, G's first.
    """

    built = True  # both optimizers are built by `GAN.compile`

    def __init__(self, *optimizers: keras.optimizers.Optimizer):
        self.optimizers = optimizers

    @property
    def variables(self) -> list:
        return [variable for optimizer in self.optimizers for variable in optimizer.variables]

    def build(self, variables) -> None:
        """Nothing to build: `GAN.compile` built each optimizer for its network."""


class _TrackedScope(keras.StatelessScope):
    """A `StatelessScope` that remembers which variables it was given."""

    def __init__(self, variables, values):
        self.tracked_variables = list(variables)
        super().__init__(state_mapping=list(zip(self.tracked_variables, values)))


def run_in_state(model: keras.Model, fn: Callable, optimizer_variables: list):
    """Run ``fn()``, which updates `model`, on any backend.

    On TensorFlow and PyTorch, and on JAX inside a train step, this is just
    ``fn()``. Called eagerly on JAX (e.g. ``gan.discriminator_step(batch)``
    in a notebook), it runs `fn` in a scope over every variable of the model
    and its optimizers and writes the new values back afterwards.
    """
    if backend() != "jax" or keras.src.backend.common.stateless_scope.in_stateless_scope():
        return fn()
    variables = model.variables + list(optimizer_variables) + model.metrics_variables
    with _TrackedScope(variables, [variable.value for variable in variables]) as scope:
        result = fn()
    for variable in variables:
        variable.assign(scope.get_current_value(variable))
    return result


def stateless_train_step(model: keras.Model, state: tuple, step_fn: Callable, optimizer_variables: list,
                         with_optimizer: bool = True):
    """Run a stateful ``step_fn()`` as the pure function Keras' JAX trainer wants.

    Args:
        model: the model being trained.
        state: Keras' ``(trainable, non_trainable, optimizer, metrics)``
            values (without the optimizer's for a test step).
        step_fn: the ordinary step, returning the logs dict.
        optimizer_variables: the variables whose values are ``state[2]``.
        with_optimizer: False for a test step (no optimizer state).

    Returns:
        ``(logs, new_state)`` in the layout of `state`.
    """
    groups = [model.trainable_variables, model.non_trainable_variables]
    if with_optimizer:
        groups.append(optimizer_variables)
    groups.append(model.metrics_variables)
    variables = [variable for group in groups for variable in group]
    values = [value for group_values in state for value in group_values]
    with _TrackedScope(variables, values) as scope:
        logs = step_fn()
    new_state = tuple([scope.get_current_value(variable) for variable in group] for group in groups)
    return logs, new_state
