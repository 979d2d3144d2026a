"""Sphinx configuration of the course website (`make book`, docs/book.md).

The source folder is the repository itself (``book/build.py`` runs ``sphinx-build -c book .``), so
the README, ``docs/*.md`` and the notebooks are read where they are, nothing is copied into git, and
their relative links (``docs/cli.md``, ``notebooks/03_dcgan_mnist.ipynb``, ``../README.md``) resolve
on the site as they do on disk. myst-nb executes the notebooks and caches the results with
jupyter-cache, so a rebuild reruns only a notebook whose code changed.

Everything the pages load is in the build: the PyData theme ships its own scripts and fonts, and
MathJax 3 is copied from the ``django-static-mathjax`` package (Sphinx's default is a CDN). That package
is only a copy of MathJax (its Python module, ``mathjax``, is empty; it needs no Django).
"""

import json
import os
import shutil
from pathlib import Path

import mathjax

BOOK = Path(__file__).resolve().parent
QUICK = os.environ.get("GAN_KERAS_QUICK", "").strip() == "1"
MATHJAX_SOURCE = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
# What a page never loads from that copy: the other combined builds, SVG output, the speech engine.
MATHJAX_LEFT_OUT = ["sre", "*svg*", "mml-*", "tex-mml-*", "tex-chtml-full*", "node-main.js"]
# The notebook written for a GPU: with its defaults it trains on all of Fashion-MNIST (downloaded) for
# 30 epochs, hours on a CPU. A full build runs it only where `nvidia-smi` lists a GPU.
GPU_NOTEBOOKS = ["notebooks/08_train_on_gpu.ipynb"]

project = "gan_keras"
author = "the gan_keras authors"
copyright = "the gan_keras authors, MIT License"
root_doc = "README"
templates_path = [str(BOOK / "_templates")]
# The source folder is the repository: read only these, and do not walk the big folders.
# The two other READMEs are linked from docs/ (the data's provenance, the assignment kit).
EXTRA_PAGES = ["assignments/README", "gan_keras/data_files/README"]
include_patterns = ["README.md", "docs/*.md", "notebooks/[0-9][0-9]_*.ipynb", *(f"{page}.md" for page in EXTRA_PAGES)]
exclude_patterns = [".*", "build", "runs", "tests", "benchmarks", "tools", "scripts", "book", "**/.ipynb_checkpoints"]

extensions = ["myst_nb", "sphinx.ext.mathjax"]

# ------------------------------------------------------------------ Markdown (MyST)
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3           # so links such as docs/install.md#versions find their heading

# ------------------------------------------------------------------ notebooks (myst-nb)
nb_execution_mode = "cache"        # jupyter-cache: rerun a notebook only when its code changed
nb_execution_cache_path = os.environ.get("GAN_KERAS_BOOK_CACHE", str(BOOK.parent / "build" / "book" / "jupyter-cache"))
nb_execution_timeout = 1800        # seconds per cell: a full run trains for minutes in one cell
nb_execution_raise_on_error = True  # a failing cell (a `# Check:` cell's assertion) fails the build
nb_execution_show_tb = True        # and the build log shows its traceback
nb_execution_in_temp = True        # default runs write runs/...: into a temporary folder, not the clone
nb_merge_streams = True
nb_execution_excludepatterns = [] if QUICK or shutil.which("nvidia-smi") else list(GPU_NOTEBOOKS)
# show_gif()'s image/gif output is embedded as a GIF file in _images (myst-nb's default priorities).

# ------------------------------------------------------------------ HTML
html_theme = "pydata_sphinx_theme"
html_title = "gan_keras: generative models with Keras 3"
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 3,   # notebook titles are long: the rest go under "More"
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# Every page is at the top of the table of contents, so the theme's "section navigation" would be empty:
# the left sidebar lists the whole site instead (book/_templates/site-nav.html).
html_sidebars = {"**": ["site-nav.html"]}
html_show_sourcelink = False       # each notebook page links to its .ipynb instead (see _notebook_note)
html_copy_source = False
html_last_updated_fmt = None
# The theme's light/dark switch starts on the reader's system setting (unset, the theme logs an error).
html_context = {"default_mode": "auto"}
# index.html sends a visitor to the README's page, the root of the site.
html_additional_pages = {"index": "redirect.html"}
# MathJax 3, from the copy put into _static/mathjax by _copy_mathjax (Sphinx prefixes _static/).
mathjax_path = "mathjax/tex-chtml.js"


def _notebook_note(docname: str) -> str:
    """The Markdown of the box under a notebook's title: download it, and how to run it."""
    name = Path(docname).name + ".ipynb"
    mode = ("in quick mode (`GAN_KERAS_QUICK=1`: small, fast settings)" if QUICK
            else "with its default settings")
    if not QUICK and f"{docname}.ipynb" in GPU_NOTEBOOKS and not shutil.which("nvidia-smi"):
        mode = "without outputs: it is written for a GPU, and this site was built without one"
    return "\n".join([
        "```{admonition} Run this notebook",
        ":class: tip",
        f"**Download:** {{download}}`{name} <{name}>`. This page shows it executed {mode}.",
        "",
        f"- **Jupyter:** in a clone of the repository, `make setup` (or `pip install -e .`), then "
        f"`.venv/bin/jupyter lab notebooks/{name}`.",
        "- **Colab:** *File → Upload notebook*, choose the file, and run the **Setup** cell first: it "
        "installs `gan_keras` (from `GAN_KERAS_PIP`, a clone's path or a `git+https://` URL, else from a "
        "clone in `/content/gan_keras`), then reports the Keras version and any GPU.",
        "- `GAN_KERAS_QUICK=1` in the environment runs it in seconds with small settings; the defaults give the real result.",
        "```",
    ])


def _add_notebook_note(app, docname, source):
    """source-read: insert the download-and-run box as a Markdown cell after a notebook's first cell.

    Only Markdown is added, so jupyter-cache (which hashes the code cells) still finds the cached run.
    """
    if not docname.startswith("notebooks/"):
        return
    notebook = json.loads(source[0])
    cell = {"cell_type": "markdown", "id": "book-run-this-notebook", "metadata": {},
            "source": _notebook_note(docname)}
    notebook["cells"].insert(1, cell)
    source[0] = json.dumps(notebook)


def _add_navigation(app, docname, source):
    """source-read: give the README (the root page) the site's table of contents, hidden in its text."""
    if docname != root_doc:
        return
    source[0] += "\n".join([
        "", "", "```{toctree}", ":hidden:", ":caption: Notebooks", ":glob:", "", "notebooks/*", "```",
        "", "```{toctree}", ":hidden:", ":caption: Reference", ":glob:", "", "docs/*", *EXTRA_PAGES, "```", "",
    ])


def _copy_mathjax(app, exception):
    """build-finished: copy MathJax 3 into _static/mathjax (about 5 MB), so math renders offline."""
    if exception is None and app.builder.format == "html":
        shutil.copytree(MATHJAX_SOURCE, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*MATHJAX_LEFT_OUT))


def setup(app):
    app.connect("source-read", _add_notebook_note)
    app.connect("source-read", _add_navigation)
    app.connect("build-finished", _copy_mathjax)
