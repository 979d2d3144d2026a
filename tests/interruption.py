"""An interruption at a chosen epoch, for the tests of resuming a run (a Keras
callback that raises, as a closed laptop or a killed Colab session would stop
training). Import it after KERAS_BACKEND is set."""

import keras


class Interrupt(Exception):
    pass


class InterruptAt(keras.callbacks.Callback):
    """Raise `Interrupt` when epoch `epoch` (counted from 0) begins."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupt


def straight_and_resumed(config, out, interrupt_at: int):
    """Train `config` straight through into ``out/straight``, and into
    ``out/resumed`` interrupted when epoch `interrupt_at` begins, then resumed
    by the same call. Returns both `TrainResult`s and the resumed run's
    history.json."""
    import json

    from gan_keras.training import train

    straight = train(config, out / "straight", verbose=0)
    try:
        train(config, out / "resumed", verbose=0, extra_callbacks=[InterruptAt(interrupt_at)])
    except Interrupt:
        pass
    resumed = train(config, out / "resumed", verbose=0)
    return straight, resumed, json.loads((out / "resumed" / "history.json").read_text())
