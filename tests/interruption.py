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


class Killed(BaseException):
    """The process "dies" here: a BaseException, so that no `except Exception`
    in Keras or gan_keras catches it (as nothing can catch a SIGKILL)."""


class WriteFaults:
    """Count every change made to the files under `folders`, and "kill" the
    process at the `kill_at`-th one (counted from 0) by raising `Killed`;
    or, with `snapshot`, call ``snapshot(point, damage)`` at every one.

    The changes counted, each a point where a kill can land:

    - ``create NAME``: a file is about to be opened for writing (by `open`,
      `pathlib` or h5py, which Keras' `save_weights` uses);
    - ``half NAME``: the file has just been written and closed; at the kill
      point it is cut to half its size first: a write cut off mid-way;
    - ``replace NAME``, ``unlink NAME``, ``rmtree NAME``: just before the call;
    - ``rmtree-half NAME``: half of the folder's files are deleted, then the kill.

    A kill leaves nothing but what is on disk, so a copy of the files taken
    at a point, damaged as a kill there would leave them, is that kill's
    outcome: `snapshot` gets ``damage``, a function of ``where`` (which maps
    a path to its place in the copy) that cuts the file or deletes the files
    (None where a kill damages nothing). One uninterrupted run then yields
    every point's outcome.

    Use it as a context manager around the code that writes.
    """

    def __init__(self, folders, kill_at=None, snapshot=None):
        from pathlib import Path

        self.folders = [Path(folder).resolve() for folder in folders]
        self.kill_at = kill_at
        self.snapshot = snapshot
        self.events: list[str] = []

    def _folder_of(self, path):
        from pathlib import Path

        try:
            resolved = Path(path).resolve()
        except (TypeError, ValueError, OSError):
            return None
        return next((folder for folder in self.folders if resolved.is_relative_to(folder)), None)

    def _inside(self, path) -> bool:
        return self._folder_of(path) is not None

    def _name(self, path) -> str:
        from pathlib import Path

        folder = self._folder_of(path)
        return str(Path(folder.name) / Path(path).resolve().relative_to(folder))

    def _event(self, kind, path, damage=None) -> None:
        if not self._inside(path):
            return
        self.events.append(f"{kind} {self._name(path)}")
        if self.snapshot is not None:
            self.snapshot(len(self.events) - 1, damage)
        if self.kill_at is not None and len(self.events) - 1 == self.kill_at:
            if damage is not None:
                damage(lambda same: same)
            raise Killed(self.events[-1])

    def _written(self, path) -> None:
        import os

        def cut_in_half(where):
            with self._original_open(where(path), "r+b") as file:
                file.truncate(os.path.getsize(where(path)) // 2)

        self._event("half", path, cut_in_half)

    def __enter__(self):
        import builtins
        import io
        import os
        import shutil

        import h5py

        faults = self
        self._original_open = original_open = io.open
        originals = {"replace": os.replace, "unlink": os.unlink, "rmtree": shutil.rmtree}
        original_h5_init, original_h5_close = h5py.File.__init__, h5py.File.close

        class WatchedFile:
            """A file opened for writing: reports `half` once closed."""

            def __init__(self, file, path):
                self._file, self._path = file, path

            def __getattr__(self, name):
                return getattr(self._file, name)

            def __iter__(self):
                return iter(self._file)

            def __enter__(self):
                return self

            def __exit__(self, *error):
                self.close()
                return False

            def close(self):
                if not self._file.closed:
                    self._file.close()
                    faults._written(self._path)

        def watched_open(file, mode="r", *args, **kwargs):
            writing = any(flag in mode for flag in "wax") and isinstance(file, (str, os.PathLike))
            if writing and faults._inside(file):
                faults._event("create", file)
                return WatchedFile(original_open(file, mode, *args, **kwargs), file)
            return original_open(file, mode, *args, **kwargs)

        def watched(kind):
            def call(path, *args, **kwargs):
                faults._event(kind, path)
                return originals[kind](path, *args, **kwargs)
            return call

        def watched_rmtree(path, *args, **kwargs):
            faults._event("rmtree", path)
            files = sorted(p for p in __import__("pathlib").Path(path).rglob("*") if p.is_file())

            def delete_half(where):
                for file in files[: max(1, len(files) // 2)]:
                    originals["unlink"](where(file))

            faults._event("rmtree-half", path, delete_half)
            return originals["rmtree"](path, *args, **kwargs)

        def h5_init(h5_self, name, mode="r", *args, **kwargs):
            if mode != "r" and isinstance(name, (str, os.PathLike)) and faults._inside(name):
                faults._event("create", name)
                h5_self._gan_keras_watched = name
            return original_h5_init(h5_self, name, mode, *args, **kwargs)

        def h5_close(h5_self):
            original_h5_close(h5_self)
            watched_path = h5_self.__dict__.pop("_gan_keras_watched", None)
            if watched_path is not None:
                faults._written(watched_path)

        self._patches = [
            (builtins, "open", watched_open), (io, "open", watched_open),
            (os, "replace", watched("replace")), (os, "unlink", watched("unlink")),
            (shutil, "rmtree", watched_rmtree), (h5py.File, "__init__", h5_init), (h5py.File, "close", h5_close),
        ]
        self._saved = [(owner, name, getattr(owner, name)) for owner, name, _ in self._patches]
        for owner, name, replacement in self._patches:
            setattr(owner, name, replacement)
        return self

    def __exit__(self, *error):
        for owner, name, original in self._saved:
            setattr(owner, name, original)
        return False
