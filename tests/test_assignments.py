"""The assignment kit in `assignments/`, as files: the student notebook is the
teacher notebook with its solutions cleared, and the grading metadata (nbgrader
cells, otter-grader test files) agrees with the checks. The notebooks are run
inside the real nbgrader and otter-grader by tests/test_autograders.py, which
also checks what each check cell shows there.

The kit lives outside `notebooks/` because the website's build (tests/test_book.py)
runs every notebook there and fails on any error, while the student version is meant to fail its checks.
"""

import importlib.util
import json
import re

import pytest

from conftest import REPO_ROOT

KIT = REPO_ROOT / "assignments"
TEACHER = KIT / "gan_assignment_teacher.ipynb"
STUDENT = KIT / "gan_assignment_student.ipynb"
OTTER_TESTS = KIT / "otter" / "tests"

# What each check tells a student who has not started (every task still its stub).
STUB_MESSAGES = {
    "check_generator": "`model` is None: the generator has not been built yet",
    "check_discriminator": "`model` is None: the discriminator has not been built yet",
    "check_discriminator_loss": "discriminator_loss returned None",
    "check_generator_loss": "generator_loss returned None",
    "check_learns": "discriminator_loss returned None",
    "check_train_step": "`gan` is None: the GAN has not been created yet",
    "check_training_gif": "There is no GIF at",
    "check_conditional": "`generator` is None: the conditional generator has not been built yet",
}
# The points table of the grading guide (docs/grading.md): 20, and 2 for the bonus.
POINTS = {
    "check_generator": 3, "check_discriminator": 3, "check_discriminator_loss": 3, "check_generator_loss": 3,
    "check_learns": 2, "check_train_step": 3, "check_training_gif": 3, "check_conditional": 2,
}


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _graded_cells(notebook):
    return [cell for cell in notebook["cells"] if cell.get("metadata", {}).get("nbgrader", {}).get("grade")]


def _kit_script():
    spec = importlib.util.spec_from_file_location("make_student_version", KIT / "make_student_version.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ static
@pytest.mark.parametrize("path", [TEACHER, STUDENT], ids=lambda p: p.name)
def test_kit_notebook_is_committed_without_outputs(path):
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, _source(cell)[:80]


def test_student_notebook_is_the_teacher_notebook_with_its_solutions_cleared():
    teacher, student = json.loads(TEACHER.read_text()), json.loads(STUDENT.read_text())
    assert student == _kit_script().student_version(teacher), "run: python assignments/make_student_version.py"
    student_text = STUDENT.read_text()
    assert "BEGIN SOLUTION" not in student_text and "# YOUR CODE HERE" in student_text


def test_clearing_a_solution_keeps_the_code_around_it_and_indents_the_stub():
    source = "def f(x):\n    \"\"\"Doc.\"\"\"\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\ny = f(1)"
    cleared = _kit_script().clear_solutions(source)
    assert cleared == "def f(x):\n    \"\"\"Doc.\"\"\"\n    # YOUR CODE HERE\n    return None\n\ny = f(1)"
    with pytest.raises(ValueError, match="without its"):
        _kit_script().clear_solutions("    ### BEGIN SOLUTION\n    return 1")


def test_teacher_notebook_is_laid_out_for_nbgrader_and_otter():
    notebook = json.loads(TEACHER.read_text())
    cells = notebook["cells"]
    kinds = [cell["cell_type"] for cell in cells]
    assert cells[0]["cell_type"] == "markdown" and "What you will learn" in _source(cells[0])
    assert not [i for i in range(1, len(kinds)) if kinds[i] == kinds[i - 1] == "code"], "a code cell without markdown"
    assert "what to try next" in _source(cells[-1]).lower()

    metadata = [cell["metadata"]["nbgrader"] for cell in cells if "nbgrader" in cell.get("metadata", {})]
    grade_ids = [entry["grade_id"] for entry in metadata]
    assert len(grade_ids) == len(set(grade_ids)), grade_ids
    graded = _graded_cells(notebook)
    assert {cell["metadata"]["nbgrader"]["grade_id"]: cell["metadata"]["nbgrader"]["points"] for cell in graded} == POINTS
    for cell in graded:
        grade_id, source = cell["metadata"]["nbgrader"]["grade_id"], _source(cell)
        assert cell["metadata"]["nbgrader"]["locked"] and not cell["metadata"]["nbgrader"]["solution"]
        # otter-grader grades with its test files and runs the notebook without these cells.
        assert "otter_ignore" in cell["metadata"].get("tags", [])
        # The check cell calls the check it is named after and ends without a value (nbgrader warns
        # that it cannot score a cell whose result is not a number); its first line states its points.
        assert re.search(rf"^report = {grade_id}\(", source, re.MULTILINE), source
        assert source.rstrip().splitlines()[-1].startswith("print("), source
        points = POINTS[grade_id]
        assert source.startswith("# ") and f"({points} points)" in source.splitlines()[0], source
    solutions = [cell for cell in cells if cell.get("metadata", {}).get("nbgrader", {}).get("solution")]
    assert len(solutions) == 7
    assert all("### BEGIN SOLUTION" in _source(cell) for cell in solutions)
    assert all(cell["cell_type"] == "code" for cell in solutions)
    # One otter-grader test file per check, with the same name and points.
    otter = {}
    for path in OTTER_TESTS.glob("*.py"):
        text = path.read_text()
        otter[re.search(r'^name = "(\w+)"', text, re.MULTILINE).group(1)] = int(
            re.search(r"^points = (\d+)", text, re.MULTILINE).group(1))
        assert f"from gan_keras.grading import {path.stem}" in text
    assert otter == POINTS
