"""Maintainer helpers for the notebooks: strip outputs in place, count the Keras code they show.

    python tools/nbtools.py strip notebooks/*.ipynb
    python tools/nbtools.py count notebooks/*.ipynb

Notebooks are committed without outputs or execution counts
(tests/test_notebooks.py checks it); run this before committing one you ran.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
from pathlib import Path

# A line "shows Keras code" when it is inside a function or class the notebook
# defines, or builds a model or computes with Keras/a backend directly.
_KERAS_CALL = re.compile(r"\b(layers\.|ops\.|keras\.(Input|Model|Sequential|layers|ops|random)\b|GradientTape|value_and_grad|stateless_(call|apply)|autograd)")


def _new_id(text: str, taken: set) -> str:
    digest = hashlib.sha1(text.encode()).hexdigest()
    for start in range(0, len(digest) - 8):
        if digest[start:start + 8] not in taken:
            taken.add(digest[start:start + 8])
            return digest[start:start + 8]
    raise ValueError("no free cell id")


def strip(path: Path) -> bool:
    """Remove outputs and execution counts and give every cell an id; return True if the file changed."""
    text = path.read_text()
    notebook = json.loads(text)
    taken = {cell["id"] for cell in notebook.get("cells", []) if cell.get("id")}
    for index, cell in enumerate(notebook.get("cells", [])):
        if "id" not in cell and notebook.get("nbformat_minor", 0) >= 5:
            # nbformat 4.5 wants an id on every cell (Jupyter warns otherwise); a stable one, from the cell.
            cell["id"] = _new_id(f"{path.name}:{index}:{''.join(cell.get('source', []))}", taken)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    new_text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    if new_text != text:
        path.write_text(new_text)
        return True
    return False


def keras_lines(path: Path) -> int:
    """Lines of visible Keras code in a notebook's code cells: non-blank,
    non-comment lines inside a `def`/`class` the notebook writes, or calling
    `layers.*`, `ops.*`, `keras.Input/Model/Sequential/random`, a tape,
    `jax.value_and_grad`, `stateless_call/apply` or torch autograd."""
    total = 0
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = source.splitlines()
        inside = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                inside.update(range(node.lineno, node.end_lineno + 1))
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if text and not text.startswith("#") and (number in inside or _KERAS_CALL.search(text)):
                total += 1
    return total


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("strip", "count"):
        print("usage: python tools/nbtools.py strip|count NOTEBOOK...", file=sys.stderr)
        return 2
    for name in argv[1:]:
        if argv[0] == "count":
            print(f"{keras_lines(Path(name)):5d}  {name}")
        elif strip(Path(name)):
            print(f"stripped {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
