"""The assignment kit in the real autograders, end to end and offline: nbgrader
and otter-grader run the commands of docs/grading.md on three submissions.

- the reference answers (the teacher notebook): full marks, 22 of 22;
- the student notebook as shipped: 0;
- the reference answers with one mistake (a discriminator ending in a sigmoid):
  exactly that check's 3 points lost, every other graded cell full. That D
  also makes Keras warn during the train-step check, whose cell nbgrader
  would zero if the warning reached stderr.

Scores are read from `nbgrader export`'s CSV and otter's `results.json`.
Both tools are the `grading` extra; `make test` installs it and requires
these tests (GAN_KERAS_REQUIRE_GRADERS=1), elsewhere they skip without it.
"""

import csv
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from test_assignments import POINTS, STUB_MESSAGES

KIT = REPO_ROOT / "assignments"
TEACHER = KIT / "gan_assignment_teacher.ipynb"
STUDENT = KIT / "gan_assignment_student.ipynb"
GRADING = (REPO_ROOT / "docs" / "grading.md").read_text()
NOTEBOOK = "gan_assignment.ipynb"  # the one name the guide uses in both tools
FULL_MARKS = 22
MISTAKE_POINTS = 3  # check_discriminator's


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("GAN_KERAS_REQUIRE_GRADERS") == "1":
            pytest.fail(f"{module} is not installed; `make test` installs it with the [grading] extra")
        pytest.skip(f"{module} is not installed (pip install -e '.[grading]')")


def _with_one_mistake(notebook: dict) -> dict:
    """The reference answers, with D's logit layer ending in a sigmoid."""
    notebook = json.loads(json.dumps(notebook))
    (cell,) = [cell for cell in notebook["cells"] if "logits = layers.Dense(1)(x)" in "".join(cell["source"])]
    source = "".join(cell["source"]).replace("logits = layers.Dense(1)(x)",
                                             'logits = layers.Dense(1, activation="sigmoid")(x)')
    cell["source"] = source
    return notebook


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("submissions")
    teacher = json.loads(TEACHER.read_text())
    notebooks = {"reference": teacher, "shipped": json.loads(STUDENT.read_text()), "mistake": _with_one_mistake(teacher)}
    paths = {}
    for name, notebook in notebooks.items():
        paths[name] = folder / name / NOTEBOOK
        paths[name].parent.mkdir()
        paths[name].write_text(json.dumps(notebook))
    return paths


def _commands(section: str, tool: str) -> list[str]:
    """The `tool ...` lines of a ```bash block in the guide's `section`."""
    text = GRADING.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    return [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()
            if line.strip().startswith(tool + " ")]


def _run(command: list[str], cwd: Path, temporary: Path | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "GAN_KERAS_QUICK": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                   # A private temporary folder, when given: other tests may run beside this one.
                   **({"TMPDIR": str(temporary)} if temporary else {}),
                   # nbgrader runs alembic, a script of this virtual environment.
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    completed = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=1200)
    assert completed.returncode == 0, (command, completed.stdout[-3000:], completed.stderr[-3000:])
    return completed


def test_nbgrader_grades_the_kit_as_the_guide_says(tmp_path, submissions):
    _require("nbgrader")
    course = tmp_path / "course"
    (course / "source" / "gan_dcgan").mkdir(parents=True)
    shutil.copy(TEACHER, course / "source" / "gan_dcgan" / NOTEBOOK)
    config = re.search(r"```python\n(\s*c = get_config\(\).*?)```", GRADING, flags=re.DOTALL).group(1)
    (course / "nbgrader_config.py").write_text(textwrap.dedent(config))
    for student, path in submissions.items():
        target = course / "submitted" / student / "gan_dcgan" / NOTEBOOK
        target.parent.mkdir(parents=True)
        shutil.copy(path, target)
    commands = _commands("With nbgrader", "nbgrader")
    assert [command.split()[1] for command in commands] == ["generate_assignment", "autograde", "export"]
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    for command in commands:
        _run(command.split(), course, temporary)
    # Quick mode's output folders went with the kernels that made them.
    assert not list(temporary.glob("gan_keras-*"))
    # The release students get is the shipped student notebook, cell for cell.
    released = json.loads((course / "release" / "gan_dcgan" / NOTEBOOK).read_text())
    shipped = json.loads(STUDENT.read_text())
    assert ["".join(cell["source"]) for cell in released["cells"]] == ["".join(cell["source"]) for cell in shipped["cells"]]

    with open(course / "grades.csv") as grades:
        rows = {row["student_id"]: row for row in csv.DictReader(grades)}
    scores = {student: (float(row["score"]), float(row["max_score"])) for student, row in rows.items()}
    assert scores == {"reference": (FULL_MARKS, FULL_MARKS), "shipped": (0, FULL_MARKS),
                      "mistake": (FULL_MARKS - MISTAKE_POINTS, FULL_MARKS)}
    autograded = {student: json.loads((course / "autograded" / student / "gan_dcgan" / NOTEBOOK).read_text())
                  for student in submissions}
    # Cell by cell: only check_discriminator lost points in the submission with one mistake.
    failed = [cell["metadata"]["nbgrader"]["grade_id"] for cell in autograded["mistake"]["cells"]
              if cell["metadata"].get("nbgrader", {}).get("grade")
              and any(output["output_type"] == "error" or output.get("name") == "stderr" for output in cell["outputs"])]
    assert failed == ["check_discriminator"]
    # The reference answers: each check cell prints its report and shows nothing else (no value, no stderr).
    graded = [cell for cell in autograded["reference"]["cells"] if cell["metadata"].get("nbgrader", {}).get("grade")]
    assert {cell["metadata"]["nbgrader"]["grade_id"] for cell in graded} == set(POINTS)
    for cell in graded:
        outputs = cell["outputs"]
        assert [(output["output_type"], output.get("name")) for output in outputs] == [("stream", "stdout")], outputs
        assert "".join(outputs[0]["text"]).startswith("passed: {"), outputs
    # The shipped notebook: each check fails with its own message, and no other cell fails.
    messages = {}
    for cell in autograded["shipped"]["cells"]:
        errors = [output for output in cell.get("outputs", []) if output["output_type"] == "error"]
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in STUB_MESSAGES:
            assert len(errors) == 1 and errors[0]["ename"] == "AssertionError", (grade_id, errors)
            messages[grade_id] = errors[0]["evalue"]
        else:
            assert not errors, ("".join(cell["source"])[:80], errors)
    assert set(messages) == set(STUB_MESSAGES)
    assert all(STUB_MESSAGES[grade_id] in message for grade_id, message in messages.items()), messages


def test_otter_grades_the_kit_as_the_guide_says(tmp_path, submissions):
    _require("otter")
    assignment = tmp_path / "otter"
    shutil.copytree(KIT / "otter", assignment)
    # The guide's wheel (`pip wheel --no-deps -w assignments/otter .`), built offline from a copy of this
    # checkout (a build leaves a build/ folder where it runs).
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT / "gan_keras", source / "gan_keras", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
          str(assignment), str(source)], source)
    assert "gan_keras-0.1.0-py3-none-any.whl" in GRADING and (assignment / "gan_keras-0.1.0-py3-none-any.whl").is_file()
    commands = _commands("With otter-grader", "otter")
    generate = [command for command in commands if command.startswith("otter generate")]
    run = [command for command in commands if command.startswith("otter run")]
    assert len(generate) == 1 and len(run) == 1, commands
    _run(generate[0].split(), assignment)
    assert zipfile.is_zipfile(assignment / "autograder.zip")
    results = {}
    for student, path in submissions.items():
        shutil.copy(path, assignment / NOTEBOOK)
        _run(run[0].split(), assignment)
        results[student] = json.loads((assignment / "results.json").read_text())
    # results.json is Gradescope's format: one entry per check with its score (and a summary without one).
    checks = {student: {test["name"]: (test["score"], test["max_score"]) for test in result["tests"] if "score" in test}
              for student, result in results.items()}
    scores = {student: tuple(sum(column) for column in zip(*per_check.values())) for student, per_check in checks.items()}
    assert scores == {"reference": (FULL_MARKS, FULL_MARKS), "shipped": (0, FULL_MARKS),
                      "mistake": (FULL_MARKS - MISTAKE_POINTS, FULL_MARKS)}, checks
    assert [name for name, (score, maximum) in checks["mistake"].items() if score < maximum] == ["check_discriminator"]
    # Otter shows a student who has not started each check's own message.
    outputs = {test["name"]: test["output"] for test in results["shipped"]["tests"] if "score" in test}
    assert set(outputs) == set(STUB_MESSAGES)
    assert all(f"AssertionError: {STUB_MESSAGES[name]}" in output for name, output in outputs.items()), outputs
