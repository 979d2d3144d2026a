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
- `forward_with_pullback(fn, variables)`: run ``fn`` once, recorded, and
  pull a gradient on its outputs back to `variables` later (the GAN's
  generator pass, shared by the D and the G update).
- `value_and_input_gradients(fn, inputs)` and `input_gradients`: gradients
  with respect to a tensor (how each generated pixel should change to fool
  D; WGAN-GP's penalty, differentiable again).
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
    gradients = [_zeros_for_none(group, tape.gradient(loss, list(group))) for loss, group in zip(losses, variable_groups)]
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
        gradients.append(_zeros_for_none(tensors, torch.autograd.grad(loss, tensors, retain_graph=keep,
                                                                      allow_unused=True)))
    return losses, aux, gradients


def _pure_function(fn, variable_groups):
    """`fn` as a pure function of the values of `variable_groups`, for JAX.

    Returns:
        ``(pure, current, assign_updates)``: ``pure(values) -> (outputs,
        (aux, updates))``, the groups' current values, and a function that
        records the `updates` (batch statistics, seed generators: everything
        else `fn` changed) in the enclosing scope.
    """
    outer = keras.src.backend.common.stateless_scope.get_stateless_scope()
    if outer is None or not hasattr(outer, "tracked_variables"):
        raise RuntimeError("on JAX, gradients are taken inside `stateless_train_step` or `run_in_state`")
    differentiated_ids = {id(variable) for group in variable_groups for variable in group}
    others = [variable for variable in outer.tracked_variables if id(variable) not in differentiated_ids]

    def pure(group_values):
        mapping = [(variable, outer.get_current_value(variable)) for variable in others]
        for group, values in zip(variable_groups, group_values):
            mapping += list(zip(group, values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            outputs, aux = fn()
        return outputs, (aux, [scope.get_current_value(variable) for variable in others])

    def assign_updates(updated):
        for variable, value in zip(others, updated):
            variable.assign(value)

    current = [[outer.get_current_value(variable) for variable in group] for group in variable_groups]
    return pure, current, assign_updates


def _jax_gradients(loss_fn, variable_groups):
    import jax

    pure, current, assign_updates = _pure_function(lambda: _as_tuple(loss_fn()), variable_groups)
    losses, pullback, (aux, updated) = jax.vjp(pure, current, has_aux=True)
    assign_updates(updated)
    gradients = []
    for index in range(len(losses)):
        # Pull back a one-hot cotangent: d losses[index] / d all weights (XLA
        # drops the parts of the result that are not used).
        cotangent = tuple(jax.numpy.ones_like(loss) if i == index else jax.numpy.zeros_like(loss)
                          for i, loss in enumerate(losses))
        (all_groups,) = pullback(cotangent)
        gradients.append(all_groups[index])
    return losses, aux, gradients


def _as_tuple(result):
    losses, aux = result
    return tuple(losses), aux


def forward_with_pullback(fn: Callable, variables: Sequence) -> tuple:
    """Run ``fn()`` once, recorded, and return a function that later pulls a
    gradient with respect to its outputs back to `variables`.

    The two halves of reverse-mode differentiation, apart: `GAN.gan_step`
    generates one batch, updates D on it, and only then asks how G's weights
    should move, by pulling D's verdict back through the recorded pass.

    Args:
        fn: a function of no arguments returning ``(outputs, aux)``.
        variables: the `keras.Variable` list to differentiate with respect to.

    Returns:
        ``(outputs, aux, pull_back)``, where ``pull_back(output_gradients)``
        returns the gradients of ``sum(outputs * output_gradients)``.
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:  # records only while fn() runs
            outputs, aux = fn()
        return outputs, aux, lambda output_gradients: _zeros_for_none(
            variables, tape.gradient(outputs, list(variables), output_gradients=output_gradients))
    if name == "torch":
        import torch

        outputs, aux = fn()
        tensors = [variable.value for variable in variables]
        return outputs, aux, lambda output_gradients: _zeros_for_none(
            tensors, torch.autograd.grad(outputs, tensors, grad_outputs=output_gradients, allow_unused=True))
    if name == "jax":
        import jax

        pure, current, assign_updates = _pure_function(fn, [variables])
        outputs, pullback, (aux, updated) = jax.vjp(pure, current, has_aux=True)
        assign_updates(updated)
        return outputs, aux, lambda output_gradients: pullback(output_gradients)[0][0]
    raise RuntimeError(f"gan_keras trains on the backends {list(BACKENDS)}; KERAS_BACKEND is {name!r}")


def value_and_input_gradients(fn: Callable, inputs, differentiable: bool = False) -> tuple:
    """Run ``fn(inputs)`` and differentiate its loss with respect to `inputs`.

    Args:
        fn: a function of one tensor returning ``(loss, aux)``.
        inputs: the tensor to differentiate at (a constant).
        differentiable: keep the gradient itself differentiable, for a loss
            that depends on it (WGAN-GP's penalty).

    Returns:
        ``(loss, aux, gradient)``, the gradient shaped like `inputs`.
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss, aux = fn(inputs)
        # A loss that ignores the inputs has a zero gradient (TensorFlow says None).
        (gradient,) = _zeros_for_none([inputs], [tape.gradient(loss, inputs)])
        return loss, aux, gradient
    if name == "jax":
        import jax

        (loss, aux), gradient = jax.value_and_grad(fn, has_aux=True)(inputs)
        return loss, aux, gradient
    if name == "torch":
        import torch

        inputs = inputs.detach().requires_grad_(True)
        loss, aux = fn(inputs)
        if not loss.requires_grad:  # a loss that ignores the inputs (and everything else)
            return loss, aux, torch.zeros_like(inputs)
        (gradient,) = _zeros_for_none([inputs], torch.autograd.grad(loss, inputs, create_graph=differentiable,
                                                                     allow_unused=True))
        return loss, aux, gradient
    raise RuntimeError(f"gan_keras trains on the backends {list(BACKENDS)}; KERAS_BACKEND is {name!r}")


def input_gradients(fn: Callable, inputs):
    """The gradient of ``sum(fn(inputs))`` with respect to `inputs`, kept
    differentiable (so a loss may depend on it, as WGAN-GP's penalty does).

    Args:
        fn: a function of one tensor, e.g. ``lambda x: critic(x)``.
        inputs: the tensor to differentiate at.

    Returns:
        A tensor shaped like `inputs`.
    """
    _, _, gradient = value_and_input_gradients(lambda x: (keras.ops.sum(fn(x)), None), inputs, differentiable=True)
    return gradient


def _zeros_for_none(variables, gradients) -> list:
    # A weight the loss does not depend on gets a zero gradient, as on JAX.
    return [keras.ops.zeros_like(variable) if gradient is None else gradient
            for variable, gradient in zip(variables, gradients)]


def apply_update(optimizer: keras.optimizers.Optimizer, gradients, variables) -> None:
    """One optimizer step: ``optimizer.apply`` on TensorFlow and PyTorch
    (outside autograd's recording), ``optimizer.stateless_apply`` on JAX,
    whose results are recorded in the enclosing scope (a `LossScaleOptimizer`
    decides there, without side effects, whether to skip a non-finite step)."""
    name = backend()
    if name == "torch":
        import torch

        with torch.no_grad():
            optimizer.apply(gradients, variables)
    elif name == "jax":
        scope = keras.src.backend.common.stateless_scope.get_stateless_scope()
        new_weights, new_state = optimizer.stateless_apply(
            [scope.get_current_value(variable) for variable in optimizer.variables], gradients,
            [scope.get_current_value(variable) for variable in variables],
        )
        for variable, value in zip(list(variables) + list(optimizer.variables), list(new_weights) + list(new_state)):
            variable.assign(value)
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
