"""Static checks of the committed notebooks (nbmake executes them separately)."""

import ast
import inspect
import json
import pkgutil
import importlib

import pytest

import gan_keras
from conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path, kind):
    notebook = json.loads(path.read_text())
    return [cell for cell in notebook["cells"] if cell["cell_type"] == kind]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _library_names():
    names = set()
    for module_info in pkgutil.walk_packages(gan_keras.__path__, "gan_keras."):
        if module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == module.__name__:
                names.add(name)
    return names


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
def test_every_code_cell_follows_markdown_saying_why(path):
    cells = json.loads(path.read_text())["cells"]
    kinds = [cell["cell_type"] for cell in cells]
    back_to_back = [index for index in range(1, len(kinds)) if kinds[index] == kinds[index - 1] == "code"]
    assert not back_to_back, f"{path.name}: code cells {back_to_back} follow another code cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_does_not_redefine_library_code(path):
    library = _library_names()
    for cell in _cells(path, "code"):
        tree = ast.parse(_source(cell))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                assert node.name not in library, f"{path.name} defines its own {node.name}; import it from gan_keras"
