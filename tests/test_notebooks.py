"""Static checks of the committed notebooks (tests/test_book.py executes them, in the website's
quick build), and of the Setup cell's install branch, which that run never reaches (the
package is installed there)."""

import ast
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path, kind):
    notebook = json.loads(path.read_text())
    return [cell for cell in notebook["cells"] if cell["cell_type"] == kind]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_notebooks():
    assert (REPO_ROOT / "notebooks" / "03_dcgan_mnist.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    for cell in _cells(path, "code"):
        assert cell["outputs"] == [] and cell["execution_count"] is None, _source(cell)[:80]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_intro_setup_and_parameters(path):
    markdown = [_source(cell) for cell in _cells(path, "markdown")]
    code = [_source(cell) for cell in _cells(path, "code")]
    assert markdown[0].startswith("# ") and "What you will learn" in markdown[0]
    assert any(source.startswith("# Setup") and "describe_machine()" in source for source in code)
    parameters = [source for source in code if source.startswith("# Parameters")]
    assert len(parameters) == 1 and "QUICK" in parameters[0]
    assert "what to try next" in markdown[-1].lower()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_its_own_id(path):
    # nbformat 4.5 requires them (Jupyter warns otherwise); tools/nbtools.py strip adds missing ones.
    ids = [cell.get("id") for cell in json.loads(path.read_text())["cells"]]
    assert None not in ids and len(set(ids)) == len(ids), f"{path.name}: run python tools/nbtools.py strip {path}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_follows_markdown_saying_why(path):
    cells = json.loads(path.read_text())["cells"]
    kinds = [cell["cell_type"] for cell in cells]
    back_to_back = [index for index in range(1, len(kinds)) if kinds[index] == kinds[index - 1] == "code"]
    assert not back_to_back, f"{path.name}: code cells {back_to_back} follow another code cell"


# --------------------------------------------------- the code each notebook shows
# A notebook that teaches a mechanism writes it in its own cells, where a student reads it, and then
# checks in a `# Check:` cell that the library does exactly the same (the website's quick build runs that assertion in CI,
# so notebook and library cannot drift apart). The Keras code each one must show, written before its check:
TAUGHT = {
    "02_gan_from_scratch.ipynb": ["GradientTape", "def "],
    "03_dcgan_mnist.ipynb": ["layers.Dense", "layers.BatchNormalization", "layers.LeakyReLU", "layers.Conv2DTranspose",
                             "layers.Conv2D(", "ops.softplus", "(keras.Model)", "def train_step", "tf.GradientTape"],
    "04_conditional_gan.ipynb": ["layers.Embedding", "layers.Concatenate", "keras.Input"],
    "05_stabilizing_training.ipynb": ["ops.softplus", "ops.relu", "ops.square"],
    "06_vae_vs_gan.ipynb": ["layers.Conv2D", "keras.random.normal", "ops.exp"],
    "07_evaluating_generative_models.ipynb": ["sqrtm", "np.cov"],
    "09_one_gan_three_backends.ipynb": ["tf.GradientTape", "jax.value_and_grad", "stateless_call", "stateless_apply",
                                        "torch.autograd"],
}
CHECK_CELL = "# Check:"


def _code_cells(path):
    return [_source(cell) for cell in _cells(path, "code")]


def test_every_teaching_notebook_is_listed():
    assert set(TAUGHT) <= {path.name for path in NOTEBOOKS}


@pytest.mark.parametrize("name", sorted(TAUGHT))
def test_notebook_writes_what_it_teaches_then_checks_the_library(name):
    code = _code_cells(REPO_ROOT / "notebooks" / name)
    checks = [index for index, source in enumerate(code) if source.startswith(CHECK_CELL)]
    assert checks, f"{name} has no code cell starting with {CHECK_CELL!r}"
    shown = "\n".join(code[: checks[0]])
    missing = [snippet for snippet in TAUGHT[name] if snippet not in shown]
    assert not missing, f"{name} does not write {missing} in its own cells before its first check"
    for index in checks:
        tree = ast.parse(code[index])
        asserts = [node for node in ast.walk(tree) if isinstance(node, ast.Assert)
                   or (isinstance(node, ast.Call) and "assert" in ast.unparse(node.func))]
        assert asserts, f"{name}: the check cell {code[index].splitlines()[0]!r} asserts nothing"
        assert "gan_keras" in code[index] or any("gan_keras" in source for source in code[:index]), name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_writes_code_instead_of_printing_the_librarys(path):
    for source in _code_cells(path):
        assert "getsource" not in source, f"{path.name} prints library source instead of writing the code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_tape_cell_runs_only_on_tensorflow_and_says_so(path):
    # A cell written with tf.GradientTape is the TensorFlow form: the notebook stops at once, in one
    # line, on another backend (require_backend), or runs that cell in a TensorFlow process of its own.
    code = _code_cells(path)
    tape_cells = [index for index, source in enumerate(code) if "tf.GradientTape" in source]
    if not tape_cells:
        return
    guarded = any("require_backend(" in source and "tensorflow" in source for source in code[: tape_cells[0] + 1])
    # Or (notebook 09) the tape is one of several backends' functions, picked by the backend in use.
    dispatched = any("keras.backend.backend()" in source for source in code)
    assert guarded or dispatched, f"{path.name} uses tf.GradientTape without require_backend('tensorflow', ...)"


# ------------------------------------------------------------------ Setup cell
# The Setup cell runs before gan_keras can be imported, so its install code
# cannot live in the package: it is copied into every notebook, identically.
_REAL_RUN = subprocess.run


def _setup_cell(path):
    setups = [_source(cell) for cell in _cells(path, "code") if _source(cell).startswith("# Setup")]
    assert len(setups) == 1, f"{path.name} has {len(setups)} Setup cells"
    return setups[0]


def _install_code(path):
    """The part of the Setup cell before ``import gan_keras``."""
    code, found, _ = _setup_cell(path).partition("\nimport gan_keras\n")
    assert found, f"{path.name}: the Setup cell does not import gan_keras"
    return code


def test_every_setup_cell_has_the_same_install_code():
    codes = {path.name: _install_code(path) for path in NOTEBOOKS}
    assert len(set(codes.values())) == 1, f"the install code differs between {sorted(codes)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_reads_quick_mode_from_the_library(path):
    assert "QUICK = quick_mode()" in _setup_cell(path)
    reads_the_variable = re.compile(r"(environ|getenv)\S*\(?[\"']GAN_KERAS_QUICK")
    for cell in _cells(path, "code"):
        assert not reads_the_variable.search(_source(cell)), f"{path.name} reads GAN_KERAS_QUICK itself"


class _Recorder:
    """Stands in for subprocess.run / check_call: records the command, runs nothing."""

    def __init__(self):
        self.commands = []

    def __call__(self, command, *args, **kwargs):
        self.commands.append(list(command))
        return subprocess.CompletedProcess(command, 0)


def _run_install_branch(monkeypatch, cwd, pip_source=None):
    """Execute the Setup cell's install code as if gan_keras were missing; return the commands it ran."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "gan_keras" else real_find_spec(name, *args, **kwargs)

    recorder = _Recorder()
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(subprocess, "run", recorder)
    monkeypatch.setattr(subprocess, "check_call", recorder)
    if pip_source is None:
        monkeypatch.delenv("GAN_KERAS_PIP", raising=False)
    else:
        monkeypatch.setenv("GAN_KERAS_PIP", pip_source)
    monkeypatch.chdir(cwd)
    exec(compile(_install_code(NOTEBOOKS[0]), "<Setup cell>", "exec"), {"__name__": "setup_cell"})
    return recorder.commands


def test_setup_cell_installs_what_gan_keras_pip_names(monkeypatch):
    url = "git+https://example.org/gan_keras.git"
    commands = _run_install_branch(monkeypatch, REPO_ROOT / "notebooks", pip_source=url)
    assert len(commands) == 1
    assert commands[0][:4] == [sys.executable, "-m", "pip", "install"] and commands[0][-1] == url


def test_setup_cell_installs_the_clone_it_sits_in_and_pip_accepts_it(monkeypatch, tmp_path):
    commands = _run_install_branch(monkeypatch, REPO_ROOT / "notebooks")
    assert len(commands) == 1 and Path(commands[0][-1]) == REPO_ROOT
    monkeypatch.undo()
    # Run that very command into a scratch folder: pip must accept the path
    # and the wheel must carry the package and its data. (With pip's build
    # isolation, as on Colab: the venv's own setuptools may be too old for
    # pyproject.toml's `license = "MIT"`, which needs setuptools >= 77.)
    target = tmp_path / "site"
    build_folder = REPO_ROOT / "build"  # setuptools builds in the tree; remove it if this test made it
    had_build_folder = build_folder.exists()
    try:
        _REAL_RUN(commands[0] + ["--no-deps", "--target", str(target)], check=True, timeout=120,
                  env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    finally:
        if not had_build_folder:
            shutil.rmtree(build_folder, ignore_errors=True)
    assert (target / "gan_keras" / "__init__.py").is_file()
    assert (target / "gan_keras" / "data_files" / "mnist_5k.npz").is_file()


def test_setup_cell_says_what_to_do_when_no_copy_is_found(monkeypatch, tmp_path):
    if Path("/content/gan_keras/pyproject.toml").is_file():
        pytest.skip("this machine has a clone in /content/gan_keras")
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(ModuleNotFoundError) as error:
        _run_install_branch(monkeypatch, tmp_path / "notebooks")
    assert "/content/gan_keras" in str(error.value) and "GAN_KERAS_PIP" in str(error.value)


def test_a_temporary_folder_is_deleted_when_the_kernel_exits(tmp_path):
    # Quick mode writes there: test and grading runs must leave nothing behind.
    script = ("from pathlib import Path\nfrom gan_keras.teaching.notebook import temporary_folder\n"
              "folder = Path(temporary_folder())\n(folder / 'grids').mkdir()\n(folder / 'grids' / 'a.png').write_text('x')\n"
              "print(folder)")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    folder = Path(completed.stdout.strip())
    assert folder.name.startswith("gan_keras-") and not folder.exists()
