"""Maintainer helpers for the notebooks: strip outputs in place.

    python tools/nbtools.py strip notebooks/*.ipynb

Notebooks are committed without outputs or execution counts
(tests/test_notebooks.py checks it); run this before committing one you ran.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def strip(path: Path) -> bool:
    """Remove outputs and execution counts; return True if the file changed."""
    text = path.read_text()
    notebook = json.loads(text)
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    new_text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    if new_text != text:
        path.write_text(new_text)
        return True
    return False


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "strip":
        print("usage: python tools/nbtools.py strip NOTEBOOK...", file=sys.stderr)
        return 2
    for name in argv[1:]:
        if strip(Path(name)):
            print(f"stripped {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
