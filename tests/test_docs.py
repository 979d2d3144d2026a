"""The README stays a short front page, and the Markdown pages' links resolve.

Reads README.md and docs/*.md; only the check that the names they give exist imports the library.
"""

import re
from urllib.parse import unquote

import pytest

from conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
PAGES = [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 150

FENCED_CODE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target), with an optional "title"; the target may be <in angle brackets>.
LINK = re.compile(r"\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|//|#)", re.I)


def _relative_links(path):
    """Relative link targets of a Markdown file, without #fragments; code is left out."""
    text = INLINE_CODE.sub("", FENCED_CODE.sub("", path.read_text(encoding="utf-8")))
    targets = []
    for match in LINK.finditer(text):
        target = match.group(1).strip("<>")
        if EXTERNAL.match(target):
            continue
        target = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if target:
            targets.append(target)
    return targets


def test_there_are_docs_pages():
    assert len(PAGES) > 1 and README.is_file()


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_point_to_files_that_exist(path):
    missing = [target for target in _relative_links(path) if not (path.parent / target).exists()]
    assert not missing, f"{path.relative_to(REPO_ROOT)} links to files that do not exist: {missing}"


def test_readme_stays_short():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): move reference material into docs/*.md"
    )


def test_readme_links_every_docs_page():
    linked = {(README.parent / target).resolve() for target in _relative_links(README)}
    unlinked = [page.name for page in PAGES[1:] if page.resolve() not in linked]
    assert not unlinked, f"README.md does not link these docs pages: {unlinked}"


def test_every_command_line_flag_is_documented():
    # The synopsis in docs/cli.md cannot drift from the parser: every --flag of every command appears there.
    from gan_keras.training.cli import build_parser

    text = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    commands = next(action for action in build_parser()._actions if action.__class__.__name__ == "_SubParsersAction")
    missing = {name: [flag for action in parser._actions for flag in action.option_strings
                      if flag.startswith("--") and flag != "--help" and not re.search(re.escape(flag) + r"(?![\w-])", text)]
               for name, parser in commands.choices.items()}
    assert commands.choices and not any(missing.values()), f"flags missing from docs/cli.md: {missing}"


DOTTED_NAME = re.compile(r"\bgan_keras(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _resolve(dotted: str):
    """Import the longest module prefix of `dotted`, then look the rest up as attributes."""
    import importlib

    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:end]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[end:]:
            value = getattr(value, attribute)
        return value
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_library_name_in_the_docs_exists(path):
    # A renamed or moved module, class or function cannot leave the docs naming something gone.
    names = sorted(set(DOTTED_NAME.findall(path.read_text(encoding="utf-8"))))
    missing = []
    for name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert not missing, f"{path.relative_to(REPO_ROOT)} names what the library does not have: {missing}"
