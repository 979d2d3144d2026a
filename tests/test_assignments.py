"""The assignment kit in `assignments/`: the teacher notebook runs with every
check passing, the student notebook as shipped runs with every check failing
with its own message (and nothing else failing), the two stay in sync, and the
grading metadata (nbgrader cells, otter-grader test files) agrees with the checks.

The kit lives outside `notebooks/` because nbmake runs every notebook there
and fails on any error, while the student version is meant to fail its checks.
"""

import ast
import importlib.util
import json
import re

import nbformat
import pytest
from nbclient import NotebookClient

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

# Runs otter-grader's exception-based test files against the kernel's variables,
# the way otter does (each test case's arguments are looked up by name in the
# notebook's global environment), without otter itself, which the project
# does not install. Prints one JSON line with each test file's outcome.
OTTER_RUNNER = """
import inspect, json, sys, types
from pathlib import Path

class test_case:
    def __init__(self, name=None, points=None, hidden=False, success_message=None, failure_message=None):
        self.points, self.hidden = points, hidden
    def __call__(self, function):
        self.function = function
        return self
    def call(self, env):
        names = inspect.signature(self.function).parameters
        return self.function(**{name: env if name == "env" else env.get(name) for name in names})

otter_module, test_files_module = types.ModuleType("otter"), types.ModuleType("otter.test_files")
test_files_module.test_case, otter_module.test_files = test_case, test_files_module
sys.modules.update({"otter": otter_module, "otter.test_files": test_files_module})
otter_results = {}
for path in sorted(Path(OTTER_TESTS).glob("*.py")):
    namespace = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    cases = [value for value in namespace.values() if isinstance(value, test_case)]
    outcome = {"points": namespace["points"], "cases": len(cases), "passed": True}
    for case in cases:
        try:
            case.call(globals())
        except Exception as error:
            outcome.update(passed=False, error=type(error).__name__, message=str(error))
    otter_results[namespace["name"]] = outcome
print("OTTER_RESULTS " + json.dumps(otter_results))
"""


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _graded_cells(notebook):
    return [cell for cell in notebook["cells"] if cell.get("metadata", {}).get("nbgrader", {}).get("grade")]


def _kit_script():
    spec = importlib.util.spec_from_file_location("make_student_version", KIT / "make_student_version.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _execute(path, monkeypatch, allow_errors):
    """Run the notebook in quick mode, then the otter test files in the same kernel."""
    monkeypatch.setenv("GAN_KERAS_QUICK", "1")
    notebook = nbformat.read(path, as_version=4)
    runner = OTTER_RUNNER.replace("Path(OTTER_TESTS)", f"Path({str(OTTER_TESTS)!r})")
    notebook.cells.append(nbformat.v4.new_code_cell(runner))
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(KIT)}})
    client.execute()
    otter_cell = notebook.cells.pop()
    errors = [output for output in otter_cell.outputs if output.output_type == "error"]
    assert not errors, errors
    text = "".join(output.get("text", "") for output in otter_cell.outputs if output.output_type == "stream")
    (line,) = [line for line in text.splitlines() if line.startswith("OTTER_RESULTS ")]
    return notebook, json.loads(line.removeprefix("OTTER_RESULTS "))


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
        assert f"from gan_keras.checks import {path.stem}" in text
    assert otter == POINTS


# ---------------------------------------------------------------- executed
def test_teacher_notebook_runs_and_every_check_passes(monkeypatch):
    notebook, otter = _execute(TEACHER, monkeypatch, allow_errors=False)
    for cell in _graded_cells(notebook):
        # A passing check's cell prints its report (the dict it returns) and has no result, and
        # nothing in it reaches stderr: nbgrader would give the cell 0 points.
        assert [output.output_type for output in cell.outputs] == ["stream"], (_source(cell), cell.outputs)
        assert cell.outputs[0].name == "stdout" and cell.outputs[0].text.startswith("passed: {"), cell.outputs
    learns = next(cell for cell in _graded_cells(notebook) if cell.metadata.nbgrader.grade_id == "check_learns")
    report = ast.literal_eval(learns.outputs[0].text.removeprefix("passed: "))  # the dict check_learns returned
    assert report["modes_covered"] >= 4
    assert otter == {name: {"points": points, "cases": 1, "passed": True} for name, points in POINTS.items()}


def test_student_notebook_as_shipped_fails_each_check_with_its_message_and_nothing_else(monkeypatch):
    notebook, otter = _execute(STUDENT, monkeypatch, allow_errors=True)
    failed = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        errors = [output for output in cell.outputs if output.output_type == "error"]
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in STUB_MESSAGES:
            assert len(errors) == 1 and errors[0].ename == "AssertionError", (grade_id, errors)
            assert STUB_MESSAGES[grade_id] in errors[0].evalue, (grade_id, errors[0].evalue)
            failed[grade_id] = errors[0].evalue
        else:
            assert not errors, (_source(cell)[:80], errors)
    assert set(failed) == set(STUB_MESSAGES)
    # otter-grader would give no points and show the student the same messages.
    for name, outcome in otter.items():
        assert not outcome["passed"] and outcome["error"] == "AssertionError", (name, outcome)
        assert STUB_MESSAGES[name] in outcome["message"], (name, outcome)
    assert set(otter) == set(STUB_MESSAGES)
