"""Saving the random state of a model, so that a resumed run draws the noise
an uninterrupted one would have drawn.

Keras saves a model's weights and optimizer slots, but not the state of its
`keras.random.SeedGenerator`s (the GAN's noise, the VAE's reparameterisation
noise, every Dropout mask): a model restored from a backup would replay the
random numbers of epoch 1. `RandomStateMixin` adds those states to what
`save_weights`, `save` and `keras.callbacks.BackupAndRestore` write.
"""

from __future__ import annotations

PREFIX = "random_state_"


class RandomStateMixin:
    """Mix into a `keras.Model` subclass to save and restore its seed generators."""

    def random_state_variables(self) -> list:
        """The state variable of every `SeedGenerator` in the model, in a fixed order."""
        weights = {id(weight) for weight in self.weights}
        return [variable for variable in self.variables if id(variable) not in weights]

    def save_own_variables(self, store) -> None:
        super().save_own_variables(store)
        for index, variable in enumerate(self.random_state_variables()):
            store[f"{PREFIX}{index}"] = variable

    def load_own_variables(self, store) -> None:
        variables = self.random_state_variables()
        own = {}
        for key in store.keys():
            if not key.startswith(PREFIX):
                own[key] = store[key]
            # A file from a differently built model: leave the extra seeds
            # alone rather than guess; Keras reports any weight mismatch itself.
            elif int(key[len(PREFIX):]) < len(variables):
                value = store[key]
                variables[int(key[len(PREFIX):])].assign(value[()] if hasattr(value, "shape") else value)
        super().load_own_variables(own)
