"""The backend mechanics behind a gradient step that the step itself does not show.

Taught in `notebooks/09_one_gan_three_backends.ipynb`.

The update itself, `gan_keras.gan.descend`, shows its three backend branches
side by side: a `tf.GradientTape`; `jax.value_and_grad` of a pure function of
the weights, then ``optimizer.stateless_apply``; `torch.autograd`. This module
holds what those branches lean on and what other callers need:

- **JAX's state.** JAX has no variables that change in place: it
  differentiates a *pure function* of the weights. `stateless_loss` turns a
  loss that reads (and may change) a model's variables into one, as
  `keras.Model.stateless_call` does for a model's ``call``; Keras' JAX
  trainer hands ``train_step(state, data)`` the model's whole state and
  expects the new state back, and `stateless_train_step` runs the ordinary,
  stateful step that way. Both rest on `keras.StatelessScope`: inside one,
  reading a variable returns the value given to the scope and ``assign``
  only records a new value in it.
- **Two gradients from one forward pass** (`values_and_gradients`, for
  `GAN.compile(simultaneous=True)`), with `apply_gradients` and, for an eager
  call on JAX, `run_in_state`; `value_and_gradients` for the grading checks.
- **Input gradients** (`input_gradients`), for WGAN-GP's and R1's penalties.

Everything here is public Keras API (`keras.ops`, `keras.StatelessScope`,
`Variable.value`, `Optimizer.apply`/`stateless_apply`).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Sequence

import keras

BACKENDS = ("tensorflow", "jax", "torch")


def backend() -> str:
    """The Keras backend in use (``KERAS_BACKEND``, fixed when Keras is imported)."""
    return keras.backend.backend()


def _unsupported_backend() -> RuntimeError:
    return RuntimeError(f"gan_keras trains on the backends {list(BACKENDS)}; KERAS_BACKEND is {backend()!r}")


# ------------------------------------------------------------- gradients
def value_and_gradients(loss_fn: Callable, variables: Sequence) -> tuple:
    """Run ``loss_fn()`` once and differentiate its loss with respect to `variables`.

    Args:
        loss_fn: a function of no arguments returning ``(loss, aux)``; it reads
            the model's variables as usual.
        variables: a list of `keras.Variable`.

    Returns:
        ``(loss, aux, gradients)``, one gradient per variable (zeros for a
        variable the loss does not depend on).
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:  # record the forward pass...
            loss, aux = loss_fn()
        gradients = tape.gradient(loss, list(variables))  # ...and walk it back
        return loss, aux, _zeros_for_none(variables, gradients)
    if name == "torch":
        import torch

        loss, aux = loss_fn()  # autograd builds the graph as the loss is computed
        tensors = [variable.value for variable in variables]
        return loss, aux, _zeros_for_none(tensors, torch.autograd.grad(loss, tensors, allow_unused=True))
    if name == "jax":
        import jax

        # The loss as a pure function of the variables' values (see `pure_function`).
        pure, values, record_updates = pure_function(loss_fn, [variables])
        (loss, (aux, updates)), (gradients,) = jax.value_and_grad(pure, has_aux=True)(values)
        record_updates(updates)
        return loss, aux, gradients
    raise _unsupported_backend()


def values_and_gradients(loss_fn: Callable, variable_groups: Sequence[Sequence]) -> tuple:
    """Like `value_and_gradients` for several losses from one forward pass:
    the i-th loss is differentiated with respect to the i-th group of
    variables (`GAN.compile(simultaneous=True)` takes D's and G's gradients
    from one pass).

    Args:
        loss_fn: returns ``(losses, aux)`` with one scalar loss per group.
        variable_groups: one list of `keras.Variable` per loss.

    Returns:
        ``(losses, aux, gradients)``, ``gradients[i]`` for ``variable_groups[i]``.
    """
    name = backend()
    if name == "tensorflow":
        return _tensorflow_gradients(loss_fn, variable_groups)
    if name == "jax":
        return _jax_gradients(loss_fn, variable_groups)
    if name == "torch":
        return _torch_gradients(loss_fn, variable_groups)
    raise _unsupported_backend()


def _tensorflow_gradients(loss_fn, variable_groups):
    import tensorflow as tf

    # Persistent, so that one recorded pass serves every loss.
    with tf.GradientTape(persistent=True) as tape:
        losses, aux = loss_fn()
    gradients = [_zeros_for_none(group, tape.gradient(loss, list(group))) for loss, group in zip(losses, variable_groups)]
    return losses, aux, gradients


def _torch_gradients(loss_fn, variable_groups):
    import torch

    losses, aux = loss_fn()
    gradients = []
    for index, (loss, group) in enumerate(zip(losses, variable_groups)):
        tensors = [variable.value for variable in group]
        keep_graph = index < len(losses) - 1  # until the last loss has been walked back
        gradients.append(_zeros_for_none(tensors, torch.autograd.grad(loss, tensors, retain_graph=keep_graph,
                                                                      allow_unused=True)))
    return losses, aux, gradients


def _jax_gradients(loss_fn, variable_groups):
    import jax

    pure, weights, record_updates = pure_function(lambda: _as_tuple(loss_fn()), variable_groups)
    # One forward pass, then one backward pass per loss.
    losses, backward, (aux, updates) = jax.vjp(pure, weights, has_aux=True)
    gradients = []
    for index in range(len(losses)):
        only_this_loss = tuple(jax.numpy.ones_like(loss) if i == index else jax.numpy.zeros_like(loss)
                               for i, loss in enumerate(losses))
        (all_groups,) = backward(only_this_loss)
        gradients.append(all_groups[index])
    record_updates(updates)
    return losses, aux, gradients


def _as_tuple(result):
    losses, aux = result
    return tuple(losses), aux


def _zeros_for_none(variables, gradients) -> list:
    # A weight the loss does not depend on gets a zero gradient, as on JAX.
    return [keras.ops.zeros_like(variable) if gradient is None else gradient
            for variable, gradient in zip(variables, gradients)]


def apply_gradients(optimizer: keras.optimizers.Optimizer, gradients, variables) -> None:
    """One optimizer step: ``optimizer.apply`` on TensorFlow and PyTorch (on
    PyTorch outside autograd's recording); on JAX ``optimizer.stateless_apply``
    on the current values, whose results are assigned back (and so recorded in
    the step's `StatelessScope`)."""
    name = backend()
    if name == "tensorflow":
        optimizer.apply(gradients, variables)
    elif name == "torch":
        import torch

        with torch.no_grad():
            optimizer.apply(gradients, variables)
    elif name == "jax":
        new_weights, new_optimizer_state = optimizer.stateless_apply(
            [variable.value for variable in optimizer.variables], gradients, [variable.value for variable in variables])
        for variable, value in zip(list(variables) + list(optimizer.variables),
                                   list(new_weights) + list(new_optimizer_state)):
            variable.assign(value)
    else:
        raise _unsupported_backend()


def input_gradients(fn: Callable, inputs):
    """The gradient of ``sum(fn(inputs))`` with respect to `inputs`, kept
    differentiable so that a loss may depend on it (WGAN-GP's penalty).

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
            total = keras.ops.sum(fn(inputs))
        (gradient,) = _zeros_for_none([inputs], [tape.gradient(total, inputs)])
        return gradient
    if name == "jax":
        import jax

        return jax.grad(lambda x: keras.ops.sum(fn(x)))(inputs)
    if name == "torch":
        import torch

        inputs = inputs.detach().requires_grad_(True)
        total = keras.ops.sum(fn(inputs))
        if not total.requires_grad:  # fn ignores its inputs (and every weight)
            return torch.zeros_like(inputs)
        (gradient,) = _zeros_for_none([inputs], torch.autograd.grad(total, inputs, create_graph=True,
                                                                     allow_unused=True))
        return gradient
    raise _unsupported_backend()


# ------------------------------------------------------------- JAX's state
def stateless_loss(model: keras.Model, loss_fn: Callable, weights: Sequence, scale: Callable) -> tuple:
    """``loss_fn()``, which reads `model`'s variables and may change some of
    them (batch-norm statistics, seed-generator states), as a pure function of
    the values of `weights` (JAX): what `keras.Model.stateless_call` does for
    a model's ``call``, for a whole loss.

    Args:
        model: the model `weights` belong to; all its variables, its
            optimizer's and its metrics' are the loss's state.
        loss_fn: returns a tuple whose first item is the scalar loss.
        weights: the variables to differentiate with respect to.
        scale: applied to the loss before it is differentiated
            (``optimizer.scale_loss``).

    Returns:
        ``(pure_loss, state)``: ``pure_loss(weight_values, state_values)``
        returns ``(scale(loss), (outputs, new_state_values))``, where
        `outputs` is what `loss_fn` returned; `state` lists the variables
        whose values ``state_values`` are (the model's others).
    """
    optimizer = getattr(model, "optimizer", None)
    differentiated = {id(weight) for weight in weights}
    state = [variable for variable in _unique(list(model.variables) + list(model.metrics_variables)
                                              + (list(optimizer.variables) if optimizer is not None else []))
             if id(variable) not in differentiated]

    def pure_loss(weight_values, state_values):
        scope = keras.StatelessScope(state_mapping=list(zip(weights, weight_values)) + list(zip(state, state_values)))
        with scope:
            outputs = loss_fn()
        return scale(outputs[0]), (outputs, [scope.get_current_value(variable) for variable in state])

    return pure_loss, state


class _TrackedScope(keras.StatelessScope):
    """A `keras.StatelessScope` that remembers which variables it was given,
    so that a pure function of some of them can map all the others."""

    def __init__(self, mapping):
        self.tracked_variables = [variable for variable, _ in mapping]
        super().__init__(state_mapping=mapping)


# The scopes this module has opened, innermost last: our own reference, so
# nothing here asks Keras' private modules which scope is active.
_open_scopes: list[_TrackedScope] = []


@contextlib.contextmanager
def _tracking(mapping):
    """Open a `_TrackedScope` over ``(variable, value)`` pairs."""
    scope = _TrackedScope(list(mapping))
    _open_scopes.append(scope)
    try:
        with scope:
            yield scope
    finally:
        _open_scopes.pop()


def pure_function(fn: Callable, variable_groups: Sequence[Sequence]) -> tuple:
    """``fn()``, which reads and changes the model's variables, as a pure
    function of the values of `variable_groups` (JAX only, inside
    `stateless_train_step` or `run_in_state`).

    Returns:
        ``(pure, values, record_updates)``: ``pure(values) -> (outputs, (aux,
        updates))``; the groups' current values; and a function that assigns
        `updates` (what `fn` changed in the other variables: batch statistics,
        seed-generator states) in the enclosing scope.
    """
    if not _open_scopes:
        raise RuntimeError("on JAX, gradients are taken inside `stateless_train_step` or `run_in_state`")
    differentiated = {id(variable) for group in variable_groups for variable in group}
    others = [variable for variable in _open_scopes[-1].tracked_variables if id(variable) not in differentiated]
    other_values = [variable.value for variable in others]  # read in the enclosing scope

    def pure(values):
        mapping = list(zip(others, other_values))
        for group, group_values in zip(variable_groups, values):
            mapping += list(zip(group, group_values))
        with _tracking(mapping) as scope:
            outputs, aux = fn()
        return outputs, (aux, [scope.get_current_value(variable) for variable in others])

    def record_updates(updates):
        for variable, value in zip(others, updates):
            variable.assign(value)

    values = [[variable.value for variable in group] for group in variable_groups]
    return pure, values, record_updates


def run_in_state(model: keras.Model, fn: Callable):
    """Run ``fn()``, which updates `model`, on any backend.

    On TensorFlow and PyTorch, and on JAX inside a train step, this is just
    ``fn()``. Called eagerly on JAX (a simultaneous `GAN` step run by hand, a
    grading check's gradient), it runs `fn` in a scope over every variable of
    the model, its optimizer (a GAN's pair) and its metrics, then writes the
    new values back, so that `pure_function` finds them. (`gan_keras.gan.descend`
    needs no such scope: `stateless_loss` maps the model's variables itself.)
    """
    if backend() != "jax" or _open_scopes:
        return fn()
    optimizer = getattr(model, "optimizer", None)
    variables = _unique(list(model.variables) + (list(optimizer.variables) if optimizer is not None else [])
                        + list(model.metrics_variables))
    with _tracking([(variable, variable.value) for variable in variables]) as scope:
        result = fn()
    for variable in variables:
        variable.assign(scope.get_current_value(variable))
    return result


def _unique(variables):
    seen, unique = set(), []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            unique.append(variable)
    return unique


def stateless_train_step(model: keras.Model, state: tuple, step_fn: Callable, with_optimizer: bool = True):
    """Run a stateful ``step_fn()`` as the pure function Keras' JAX trainer wants.

    Args:
        model: the model being trained.
        state: Keras' ``(trainable, non_trainable, optimizer, metrics)``
            values (without the optimizer's for a test step).
        step_fn: the ordinary step, returning the logs dict.
        with_optimizer: False for a test step (no optimizer state).

    Returns:
        ``(logs, new_state)`` in the layout of `state`.
    """
    groups = [model.trainable_variables, model.non_trainable_variables]
    if with_optimizer:
        groups.append(model.optimizer.variables)
    groups.append(model.metrics_variables)
    variables = [variable for group in groups for variable in group]
    values = [value for group_values in state for value in group_values]
    with _tracking(zip(variables, values)) as scope:
        logs = step_fn()
    new_state = tuple([scope.get_current_value(variable) for variable in group] for group in groups)
    return logs, new_state


class OptimizerPair:
    """A GAN's two optimizers, shown to Keras as one ``model.optimizer``.

    Keras' JAX trainer carries ``model.optimizer.variables`` from step to step
    (and every backend saves them with the model), so a GAN sets its
    ``optimizer`` to this pair: both optimizers' variables, G's first. Keras'
    trainers only finalize an `Optimizer` (e.g. swap in a ``use_ema``
    average) at the end of `fit`; `GAN.fit` does that for the pair.
    """

    built = True  # both optimizers are built by `GAN.compile`

    def __init__(self, *optimizers: keras.optimizers.Optimizer):
        self.optimizers = optimizers

    @property
    def variables(self) -> list:
        return [variable for optimizer in self.optimizers for variable in optimizer.variables]

    def build(self, variables) -> None:
        """Nothing to build: `GAN.compile` built each optimizer for its network."""

