"""The project's own files agree with each other."""

import re

import pytest

from conftest import REPO_ROOT

tomllib = pytest.importorskip("tomllib")


def _pyproject():
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _environment_pip_requirements():
    text = (REPO_ROOT / "environment.yml").read_text()
    pip_block = text.split("- pip:", 1)[1]
    return [match.strip() for match in re.findall(r"^\s+-\s+(.+)$", pip_block, flags=re.MULTILINE)]


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = _pyproject()["project"]
    expected = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    listed = _environment_pip_requirements()
    assert "-e .[dev]" in listed
    assert set(listed) - {"-e .[dev]"} == expected


def test_readme_test_command_is_what_ci_runs():
    readme = (REPO_ROOT / "README.md").read_text()
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = re.search(r"^test: setup-backends\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe, "the Makefile has no `test: setup-backends` recipe"
    # Every test on two workers (tests/test_book.py executes the notebooks in the website's quick build),
    # then the floor versions' subset (docs/install.md).
    assert re.search(r"pytest -n \$\(TEST_WORKERS\) --dist loadfile tests -m \"not slow\"", recipe.group(1))
    assert recipe.group(1).rstrip().endswith("test-floors")
    # The backend and autograder tests are required (not skipped) where `make test` installed them.
    assert '.[dev,backends,grading,book]"' in makefile and "GAN_KERAS_REQUIRE_BACKENDS=1" in makefile
    assert "GAN_KERAS_REQUIRE_GRADERS=1" in makefile and "GAN_KERAS_REQUIRE_BROWSER=1" in makefile
    # The browser tests are required in CI: .ci/run installs the system's Chromium before `make test`.
    assert re.search(r"apt-get[^\n]*install[^\n]*chromium", ci)


def test_make_book_builds_the_website_with_the_book_extra():
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = re.search(r"^book: setup-backends\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe and "book/build.py" in recipe.group(1)
    book = " ".join(_pyproject()["project"]["optional-dependencies"]["book"])
    for package in ("sphinx", "myst-nb", "pydata-sphinx-theme", "jupyter-cache", "django-static-mathjax", "playwright"):
        assert package in book


def test_bundled_data_ships_with_its_provenance():
    data_files = REPO_ROOT / "gan_keras" / "data_files"
    assert (data_files / "mnist_5k.npz").is_file()
    readme = (data_files / "README.md").read_text()
    assert "CC BY-SA 3.0" in readme and "LeCun" in readme
    assert "data_files/*.npz" in str(_pyproject()["tool"]["setuptools"]["package-data"]["gan_keras"])


def test_the_library_uses_only_public_keras_api():
    # `keras.src` is Keras' private implementation: it moves between releases.
    offenders = [f"{path.relative_to(REPO_ROOT)}:{number}"
                 for path in sorted((REPO_ROOT / "gan_keras").rglob("*.py"))
                 for number, line in enumerate(path.read_text().splitlines(), start=1)
                 if re.search(r"\bkeras\.src\b|from\s+keras\s+import\s+src\b", line)]
    assert offenders == []


def test_no_module_imports_another_modules_private_names():
    # A name with a leading underscore is its module's own business: what another module needs is public.
    import ast

    offenders = []
    for path in sorted((REPO_ROOT / "gan_keras").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gan_keras"):
                offenders += [f"{path.relative_to(REPO_ROOT)}: {node.module}.{alias.name}"
                              for alias in node.names if alias.name.startswith("_")]
    assert offenders == []


def test_the_top_level_holds_the_core_and_each_audience_has_its_subpackage():
    # docs/library.md: the core a student reads at the top; the training run and CLI, evaluation,
    # teaching helpers and grading in subpackages.
    package = REPO_ROOT / "gan_keras"
    subpackages = {path.parent.name for path in package.glob("*/__init__.py")}
    assert {"training", "evaluation", "teaching", "grading"} <= subpackages
    top = {path.stem for path in package.glob("*.py")}
    assert not top & {"cli", "config", "distribute", "mixed_precision", "toy", "classic", "latent",
                      "handwritten", "notebook", "recipes", "checks"}
    assert {"data", "builders", "losses", "gan", "vae", "callbacks"} <= top
