"""The course website (`make book`, docs/book.md), built in quick mode and checked in a browser.

The quick build is where `make test` executes the nine notebooks: myst-nb runs each one once
(``GAN_KERAS_QUICK=1``, a fresh jupyter-cache so today's library is what runs) and fails the build on
any cell error, so a notebook's ``# Check:`` cell still fails CI. The site is then checked twice:

- from its files (no browser needed): each notebook page shows a figure from its own run and links its
  ``.ipynb``; every internal link and anchor resolves; nothing names another host as an asset;
- in headless Chromium (the Debian ``chromium`` package, driven by Playwright; no browser download),
  served on 127.0.0.1: no console error, every image and GIF loads, no request leaves localhost, math
  renders with the bundled MathJax. Two screenshots go to build/book-screenshots/ for a person.

The whole file runs on one pytest-xdist worker (``--dist loadfile``) while the other runs the rest.
Without the ``book`` extra or Chromium these tests skip, saying why; ``make test`` sets
GAN_KERAS_REQUIRE_BROWSER=1, under which they fail instead.
"""

import functools
import http.server
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import urlopen

import pytest

from conftest import REPO_ROOT

OUT = REPO_ROOT / "build" / "book-quick"
SITE = OUT / "html"
SCREENSHOTS = REPO_ROOT / "build" / "book-screenshots"
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOK_PAGES = [f"notebooks/{path.stem}.html" for path in NOTEBOOKS]
CHROMIUM = os.environ.get("GAN_KERAS_CHROMIUM", "/usr/bin/chromium")  # Debian's package
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# The page with the most math (the GAN's value function and losses), where MathJax must have rendered.
MATH_PAGE = "notebooks/02_gan_from_scratch.html"
SCREENSHOT_PAGES = {"README.html": "readme.png", "notebooks/03_dcgan_mnist.html": "03_dcgan_mnist.png"}


def _require_or_skip(ok: bool, what: str) -> None:
    """Skip with a one-line reason, or fail where `make test` asked for these tests (GAN_KERAS_REQUIRE_BROWSER=1)."""
    if ok:
        return
    if os.environ.get("GAN_KERAS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{what}; `make test` installs it (the [book] extra, and chromium through .ci/run)")
    pytest.skip(what)


# ------------------------------------------------------------------ book/build.py, without building


def _build_module():
    spec = importlib.util.spec_from_file_location("book_build", REPO_ROOT / "book" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_and_full_builds_keep_their_own_folders_and_caches(monkeypatch):
    build = _build_module()
    monkeypatch.setenv("GAN_KERAS_QUICK", "1")
    quick = build.default_out()
    monkeypatch.setenv("GAN_KERAS_QUICK", "0")
    full = build.default_out()
    assert (quick.name, full.name) == ("book-quick", "book")
    for out in (quick, full):
        env = build.build_environment(out)
        assert Path(env["GAN_KERAS_BOOK_CACHE"]).parent == out  # a cache per mode
    # The kernels draw inline figures only where matplotlib's backend is left to ipykernel.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert "MPLBACKEND" not in build.build_environment(full)
    assert "--fail-on-warning" in build.sphinx_command(full)


# ------------------------------------------------------------------ the quick build


@pytest.fixture(scope="module")
def quick_build():
    """`GAN_KERAS_QUICK=1 make book`'s build, run once for this file, rerunning every notebook."""
    _require_or_skip(importlib.util.find_spec("myst_nb") is not None,
                     "myst-nb is not installed (pip install -e '.[book]'): the book is not built")
    env = {**os.environ, "GAN_KERAS_QUICK": "1"}
    return subprocess.run([sys.executable, str(REPO_ROOT / "book" / "build.py"), "--fresh"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def site(quick_build) -> Path:
    """The built site's folder; the tests that read it fail at once if the build failed."""
    if quick_build.returncode != 0:
        pytest.fail("the quick book build failed: see test_quick_build_executes_every_notebook_without_an_error")
    return SITE


def test_quick_build_executes_every_notebook_without_an_error(quick_build):
    # The build fails on any cell's error (nb_execution_raise_on_error) or Sphinx warning (a broken link).
    assert quick_build.returncode == 0, f"the quick book build failed:\n{quick_build.stdout[-6000:]}"
    executed = re.findall(r"notebooks/(\S+)\.ipynb: Executed notebook in ([\d.]+) seconds", quick_build.stdout)
    assert sorted(name for name, _ in executed) == [path.stem for path in NOTEBOOKS]
    print("notebooks executed (s): " + ", ".join(f"{name[:2]} {float(seconds):.0f}" for name, seconds in executed))


class _Page(HTMLParser):
    """The parts of one HTML page the checks read: ids, links, asset URLs, images in cell outputs."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.assets: list[str] = []
        self.output_images: list[str] = []
        self.download_links: list[str] = []
        self.text: list[str] = []
        self._open: list[tuple[str, bool]] = []  # (tag, inside a cell's output)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        in_output = (self._open[-1][1] if self._open else False) or "cell_output" in classes
        if tag not in {"img", "br", "hr", "meta", "link", "input", "source"}:
            self._open.append((tag, in_output))
        for name in ("id", "name"):
            if attrs.get(name):
                self.ids.add(attrs[name])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
            if "download" in classes:
                self.download_links.append(attrs["href"])
        if tag in {"img", "script", "iframe", "source", "video", "audio"} and attrs.get("src"):
            self.assets.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.assets.append(attrs["href"])
        if tag == "img" and in_output:
            self.output_images.append(attrs.get("src", ""))

    def handle_data(self, data):
        self.text.append(data)

    def handle_endtag(self, tag):
        # Close up to the matching tag (HTML lets some end tags be left out).
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                break


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _html_pages(site: Path) -> list[Path]:
    return sorted(path for path in site.rglob("*.html") if "_static" not in path.parts)


def _is_external(url: str) -> bool:
    return bool(urlsplit(url).scheme) or url.startswith("//")


def test_every_page_of_the_site_is_built(site):
    pages = {str(path.relative_to(site)) for path in _html_pages(site)}
    expected = {"index.html", "README.html", *NOTEBOOK_PAGES,
                *(f"docs/{path.stem}.html" for path in (REPO_ROOT / "docs").glob("*.md"))}
    assert expected <= pages, f"missing pages: {sorted(expected - pages)}"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda page: Path(page).stem[:2])
def test_notebook_page_shows_a_figure_from_its_own_run(site, page):
    # The notebooks are committed without outputs: an image in a cell's output was made by this build's run.
    images = _parse(site / page).output_images
    assert images, f"{page} has no image in any cell output"
    for src in images:
        assert (site / page).parent.joinpath(unquote(src)).resolve().is_file(), src


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name[:2])
def test_notebook_page_links_its_notebook_and_says_how_to_run_it(site, path):
    page = site / "notebooks" / f"{path.stem}.html"
    downloads = [href for href in _parse(page).download_links if href.endswith(f"/{path.name}")]
    assert downloads, f"{page.name} has no download link to {path.name}"
    downloaded = json.loads(page.parent.joinpath(unquote(downloads[0])).read_text())
    assert downloaded == json.loads(path.read_text())  # the notebook as committed: no outputs, default settings
    text = " ".join("".join(_parse(page).text).split())
    assert "Colab" in text and "Setup" in text and "jupyter lab" in text


def test_the_readme_page_shows_the_training_gif(site):
    assert any(src.endswith("training.gif") for src in _parse(site / "README.html").assets)


def test_every_internal_link_and_anchor_resolves(site):
    checked = 0
    broken = []
    for path in _html_pages(site):
        for href in _parse(path).links:
            if _is_external(href) or href.startswith("mailto:"):
                continue
            target, _, anchor = href.partition("#")
            target_path = path if not target else path.parent.joinpath(unquote(target)).resolve()
            if target_path.is_dir():
                target_path = target_path / "index.html"
            checked += 1
            if not target_path.is_file():
                broken.append(f"{path.relative_to(site)}: {href}")
            elif anchor and target_path.suffix == ".html" and unquote(anchor) not in _parse(target_path).ids:
                broken.append(f"{path.relative_to(site)}: {href} (no such anchor)")
    print(f"internal links checked: {checked} on {len(_html_pages(site))} pages")
    assert checked > 100 and broken == []


def test_no_page_or_stylesheet_names_an_asset_on_another_host(site):
    # Offline: scripts, stylesheets, images and fonts all come from the site itself (links in text may go out).
    remote = [f"{path.relative_to(site)}: {url}" for path in _html_pages(site)
              for url in _parse(path).assets if _is_external(url) and not url.startswith("data:")]
    for css in site.joinpath("_static").rglob("*.css"):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text(encoding="utf-8", errors="replace")):
            if _is_external(url) and not url.startswith("data:"):
                remote.append(f"{css.relative_to(site)}: {url}")
    assert remote == []
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()


# ------------------------------------------------------------------ in a browser


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would flood the test output
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A browser that moves to the next page drops connections it no longer needs (a broken pipe here).
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def server(site):
    """The site served by http.server on 127.0.0.1, on a free port; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _visit(page, url: str) -> dict:
    """Load `url` in `page` and wait for MathJax (where the page loads it); return what the checks read."""
    page.goto(url, wait_until="load")
    if url.endswith("/index.html"):  # it sends the visitor on to the README's page
        page.wait_for_url(re.compile(r"/README\.html$"), wait_until="load")
    if page.evaluate("!!document.querySelector('script[src*=\"mathjax\"]')"):
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30000)
        page.evaluate("MathJax.startup.promise")  # resolves once the page is typeset
    return page.evaluate("""() => ({
        url: location.href,
        images: Array.from(document.images).map(img => ({src: img.currentSrc || img.src, width: img.naturalWidth,
                                                          output: !!img.closest('.cell_output')})),
        math: document.querySelectorAll('.math.notranslate').length,
        unrendered: Array.from(document.querySelectorAll('.math.notranslate')).filter(
            element => !element.querySelector('mjx-container')).length,
        mathErrors: document.querySelectorAll('mjx-merror').length,
        links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    })""")


def _record_requests(context, requests: list[str]) -> None:
    """Record every request the pages make, and let only local ones through (a stray CDN fetch fails fast offline)."""
    def route(route_, request):
        requests.append(request.url)
        if request.url.startswith(("data:", "blob:")) or urlsplit(request.url).hostname in LOCAL_HOSTS:
            route_.continue_()
        else:
            route_.abort()

    context.route("**/*", route)


def _record_errors(page, errors: list[str], current: dict) -> None:
    """Collect console errors, uncaught exceptions and failed responses, each with the page it came from."""
    page.on("console", lambda message: message.type == "error" and errors.append(f"{current['name']}: {message.text}"))
    page.on("pageerror", lambda error: errors.append(f"{current['name']}: {error}"))
    # The console says only "Failed to load resource": name the URL.
    page.on("response", lambda response: response.status >= 400 and errors.append(
        f"{current['name']}: {response.status} {response.url}"))


def _screenshot(page, path: Path) -> None:
    """The visible part of the page; on a notebook page, at its training GIF (else its first figure)."""
    figures = page.locator(".cell_output img[src$='.gif']")
    if not figures.count():
        figures = page.locator(".cell_output img")
    if figures.count():
        figures.first.scroll_into_view_if_needed()
    page.screenshot(path=str(path), full_page=False)


@pytest.fixture(scope="module")
def browsed(server, site):
    """Every page of the site, loaded once in headless Chromium: console errors, requests, images, math."""
    _require_or_skip(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (apt-get install chromium): no browser tests")
    _require_or_skip(importlib.util.find_spec("playwright") is not None,
                     "playwright is not installed (pip install -e '.[book]'): no browser tests")
    from playwright.sync_api import sync_playwright

    results, requests, errors, current = {}, [], [], {"name": ""}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        _record_requests(context, requests)
        page = context.new_page()
        _record_errors(page, errors, current)
        for name in (str(path.relative_to(site)) for path in _html_pages(site)):
            current["name"] = name
            results[name] = _visit(page, urljoin(server, name))
            if name in SCREENSHOT_PAGES:
                _screenshot(page, SCREENSHOTS / SCREENSHOT_PAGES[name])
        browser.close()
    print(f"screenshots for a person to look at: {SCREENSHOTS}")
    return {"pages": results, "requests": requests, "errors": errors}


def test_every_page_loads_without_a_console_error(browsed):
    print(f"pages loaded in Chromium: {len(browsed['pages'])}")
    assert len(browsed["pages"]) >= len(NOTEBOOK_PAGES) + 10
    assert browsed["errors"] == [], "\n".join(browsed["errors"])


def test_index_sends_the_visitor_to_the_readme(browsed):
    assert browsed["pages"]["index.html"]["url"].endswith("/README.html")


def test_no_request_leaves_localhost(browsed):
    outside = sorted({url for url in browsed["requests"] if not url.startswith(("data:", "blob:"))
                      and urlsplit(url).hostname not in LOCAL_HOSTS})
    print(f"requests made: {len(browsed['requests'])}")
    assert outside == []


def test_every_image_and_gif_on_the_notebook_pages_loads(browsed):
    images = [image for name in NOTEBOOK_PAGES for image in browsed["pages"][name]["images"]]
    gifs = [image for image in images if image["src"].endswith(".gif")]
    print(f"images on notebook pages: {len(images)}, of them GIFs: {len(gifs)}")
    assert [image["src"] for image in images if image["width"] == 0] == []
    # Notebooks 03 and 04 each show the training GIF their own run wrote.
    assert len(gifs) >= 2


@pytest.mark.parametrize("name", NOTEBOOK_PAGES, ids=lambda name: Path(name).stem[:2])
def test_notebook_page_shows_an_image_from_its_run_in_the_browser(browsed, name):
    assert any(image["output"] and image["width"] > 0 for image in browsed["pages"][name]["images"])


def test_math_is_rendered_by_the_bundled_mathjax(browsed):
    math = browsed["pages"][MATH_PAGE]
    print(f"formulas typeset on {MATH_PAGE}: {math['math']}")
    assert math["math"] > 5 and math["unrendered"] == 0 and math["mathErrors"] == 0, math
    assert any(urlsplit(url).path == "/_static/mathjax/tex-chtml.js" for url in browsed["requests"])


def test_every_internal_link_answers_200_over_http(browsed, server):
    targets = sorted({url.split("#", 1)[0] for result in browsed["pages"].values() for url in result["links"]
                      if url.startswith(server)})
    failed = []
    for url in targets:
        try:
            with urlopen(url, timeout=10) as response:
                if response.status != 200:
                    failed.append(f"{url}: {response.status}")
        except OSError as error:
            failed.append(f"{url}: {error}")
    print(f"internal link targets fetched over HTTP: {len(targets)}")
    assert len(targets) > 20 and failed == []


def test_the_screenshots_are_written(browsed):
    for filename in SCREENSHOT_PAGES.values():
        assert (SCREENSHOTS / filename).stat().st_size > 10_000, filename
