"""Make the student notebook from the teacher notebook: clear every solution.

    python assignments/make_student_version.py

The teacher notebook is the one to edit. Each solution sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` inside a function; this script
replaces it with ``# YOUR CODE HERE`` and ``return None``, indented like the
markers, and writes ``gan_assignment_student.ipynb`` next to it. The stub
returns None on purpose: the notebook still runs from top to bottom, and each
check then fails with its own message ("... has not been built yet") rather
than a NameError. nbgrader's ``generate_assignment`` writes the same stubs
when ``c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nreturn None"}``
is in ``nbgrader_config.py``. `tests/test_assignments.py` checks that the
committed student notebook is this script's output.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEACHER = HERE / "gan_assignment_teacher.ipynb"
STUDENT = HERE / "gan_assignment_student.ipynb"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ("# YOUR CODE HERE", "return None")


def clear_solutions(source: str) -> str:
    """Replace each solution region of a code cell's source with the stub.

    Raises:
        ValueError: for a region that is not closed, or one inside another.
    """
    lines, in_solution = [], False
    for line in source.split("\n"):
        stripped = line.strip()
        if stripped == BEGIN:
            if in_solution:
                raise ValueError(f"a {BEGIN!r} inside another solution region")
            in_solution = True
            indent = line[: len(line) - len(line.lstrip())]
            lines.extend(indent + stub for stub in STUB)
        elif stripped == END:
            if not in_solution:
                raise ValueError(f"an {END!r} without its {BEGIN!r}")
            in_solution = False
        elif not in_solution:
            lines.append(line)
    if in_solution:
        raise ValueError(f"a {BEGIN!r} without its {END!r}")
    return "\n".join(lines)


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _as_lines(text: str) -> list[str]:
    # Notebooks store a cell's source as lines that keep their newline.
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def student_version(teacher: dict) -> dict:
    """The teacher notebook with every solution region cleared and no outputs."""
    student = copy.deepcopy(teacher)
    for cell in student["cells"]:
        if cell["cell_type"] != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        source = _source(cell)
        if BEGIN in source:
            cell["source"] = _as_lines(clear_solutions(source))
    return student


def main(argv: list[str]) -> int:
    if argv:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    teacher = json.loads(TEACHER.read_text())
    STUDENT.write_text(json.dumps(student_version(teacher), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {STUDENT.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
