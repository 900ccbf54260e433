"""The built book renders offline in a real browser.

Checks, on the HTML in book/_build/html:
- math is typeset by the *local* MathJax (book/_static/mathjax) in headless Chromium with every
  host name made unresolvable: the rendered DOM has one `mjx-container` per math element, no TeX
  left raw, no MathJax error;
- every <img>, <script src> and stylesheet on every page is a local file that exists;
- no page, and no CSS file of the build, references an http(s) script, style, font or image.

The book is built (without executing notebooks: OGM_SKIP_EXECUTE=1 scripts/build_book.sh) when
book/_build/html/index.html is absent. Set OGM_BOOK_PREBUILT=1 to require an existing build instead
(the test then fails if there is none). The browser is `chromium` (Debian package) or $OGM_CHROMIUM;
the browser tests are skipped when none is found. Chromium's network log shows whether a page
tried to fetch anything from the network. A screenshot of the introduction is written to
$OGM_SCREENSHOT_DIR (default: pytest's tmp_path) for a human to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "book" / "_build" / "html"
BUILD_TIMEOUT_S = 1800
BROWSER_TIMEOUT_S = 120


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def html_dir() -> Path:
    """The built book's HTML folder; built here (notebooks not executed) when absent."""
    index = HTML / "index.html"
    if index.exists():
        return HTML
    if os.environ.get("OGM_BOOK_PREBUILT") == "1":
        pytest.fail(f"OGM_BOOK_PREBUILT=1 but {index} does not exist: run scripts/build_book.sh")
    env = dict(os.environ, OGM_SKIP_EXECUTE="1")
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_book.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    if proc.returncode != 0 or not index.exists():
        pytest.fail("building the book failed:\n" + (proc.stdout + proc.stderr)[-6000:])
    return HTML


@pytest.fixture(scope="session")
def chromium() -> str:
    for name in (os.environ.get("OGM_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    pytest.skip(
        "no headless browser found: install Debian's `chromium` (apt-get install -y "
        "chromium) or set OGM_CHROMIUM to a Chrome/Chromium binary"
    )


def _browser_cmd(chromium: str, profile: Path) -> list[str]:
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        # offline: no host name resolves, so anything fetched from the network fails to load
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=10000",
    ]


#: hosts Chromium itself calls in the background (updates, clock, accounts) despite the flags above;
#: requests a *page* makes to any other host are reported
BROWSER_SERVICE_HOSTS = {
    "clients2.google.com",
    "update.googleapis.com",
    "accounts.google.com",
    "clientservices.googleapis.com",
    "safebrowsing.googleapis.com",
    "redirector.gvt1.com",
    "content-autofill.googleapis.com",
    "optimizationguide-pa.googleapis.com",
}


def _render(chromium: str, page: Path, tmp: Path, *extra: str):
    """Open `page` headless and offline; returns (process, http(s) URLs the page tried to load)."""
    profile = tmp / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    netlog = tmp / f"netlog-{page.stem}.json"
    proc = subprocess.run(
        [*_browser_cmd(chromium, profile), f"--log-net-log={netlog}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_S,
    )
    urls = set()
    if netlog.exists():
        log = netlog.read_text(encoding="utf-8", errors="replace")
        for url in re.findall(r'"url"\s*:\s*"(https?://[^"]+)"', log):
            if urlsplit(url).hostname not in BROWSER_SERVICE_HOSTS:
                urls.add(url)
    return proc, urls


# --------------------------------------------------------------------------------------------
# HTML helpers


class _Refs(HTMLParser):
    """Collects the resources a page loads, and its math elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.imgs: list[str] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []  # stylesheets, preloads, icons, fonts
        self.math = 0
        self.mjx = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag in ("div", "span") and "math" in classes:
            self.math += 1
        if tag == "mjx-container":
            self.mjx += 1
        if tag == "img" and a.get("src"):
            self.imgs.append(a["src"])
        elif tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "link" and a.get("href"):
            rel = (a.get("rel") or "").lower().split()
            if set(rel) & {
                "stylesheet",
                "preload",
                "modulepreload",
                "icon",
                "shortcut",
                "apple-touch-icon",
                "prefetch",
                "manifest",
            }:
                self.styles.append(a["href"])


def _parse(text: str) -> _Refs:
    p = _Refs()
    p.feed(text)
    return p


def _is_remote(url: str) -> bool:
    return bool(re.match(r"^(https?:)?//", url.strip(), re.I))


def _local_target(page: Path, url: str) -> Path | None:
    """The file a relative URL on `page` points to (None for data: URIs and in-page anchors)."""
    parts = urlsplit(url)
    if parts.scheme == "data" or (not parts.path and (parts.fragment or parts.query)):
        return None
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return (page.parent / unquote(parts.path)).resolve()


def _pages(html_dir: Path) -> list[Path]:
    skip = {"_static", "_sources", "_images", "_downloads", "reports"}
    return sorted(p for p in html_dir.rglob("*.html") if not (set(p.relative_to(html_dir).parts[:-1]) & skip))


def _math_pages(html_dir: Path) -> list[Path]:
    return [p for p in _pages(html_dir) if _parse(p.read_text(encoding="utf-8")).math]


# --------------------------------------------------------------------------------------------
# static checks on the built HTML (no browser needed)


def test_every_image_script_and_style_is_local_and_exists(html_dir):
    problems = []
    pages = _pages(html_dir)
    assert pages, f"no HTML pages under {html_dir}"
    for page in pages:
        refs = _parse(page.read_text(encoding="utf-8"))
        rel = page.relative_to(html_dir)
        for kind, urls in (("img", refs.imgs), ("script", refs.scripts), ("link", refs.styles)):
            for url in urls:
                if _is_remote(url):
                    problems.append(f"{rel}: <{kind}> loads a remote resource {url}")
                    continue
                target = _local_target(page, url)
                if target is not None and not target.is_file():
                    problems.append(f"{rel}: <{kind}> {url} -> missing file {target}")
    assert not problems, "\n".join(problems)


def test_mathjax_is_served_locally(html_dir):
    pages = _math_pages(html_dir)
    assert pages, "no page with math: the introduction should have some"
    for page in pages:
        scripts = _parse(page.read_text(encoding="utf-8")).scripts
        mj = [s for s in scripts if "mathjax" in s.lower()]
        assert mj, f"{page.name}: has math but loads no MathJax"
        assert all(not _is_remote(s) for s in mj), f"{page.name}: MathJax from a CDN: {mj}"
        assert len(mj) == 1, f"{page.name}: MathJax loaded more than once: {mj}"


def test_no_remote_urls_in_css(html_dir):
    """Theme or extension CSS must not pull fonts or images (e.g. Google Fonts) from the web."""
    remote = re.compile(r"""(@import\s+(url\()?\s*['"]?|url\(\s*['"]?)(https?:)?//""", re.I)
    problems = [
        str(css.relative_to(html_dir))
        for css in (html_dir / "_static").rglob("*.css")
        if remote.search(css.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not problems, "CSS files referencing remote resources:\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------------
# rendering in a real browser, offline


def _check_rendered(page: Path, dom: str, requested: set[str], has_math: bool = True) -> list[str]:
    refs = _parse(dom)
    problems = []
    name = page.name
    for url in sorted(requested):
        problems.append(f"{name}: the page tried to fetch {url} (the book must work offline)")
    for url in refs.scripts + refs.styles:
        if _is_remote(url):
            problems.append(f"{name}: rendered page loads remote {url}")
    if not has_math:
        return problems
    if refs.mjx == 0:
        problems.append(f"{name}: no <mjx-container>: MathJax did not typeset the page")
    if refs.mjx < refs.math:
        problems.append(f"{name}: {refs.mjx} <mjx-container> for {refs.math} math elements")
    if "<mjx-merror" in dom or "data-mjx-error=" in dom:
        problems.append(f"{name}: MathJax reported a TeX error (mjx-merror)")
    # MathJax's `noundefined` extension shows an unknown macro as red text instead of an error
    undefined = re.findall(r'<mtext mathcolor="red">(\\[A-Za-z]+)</mtext>', dom)
    if undefined:
        problems.append(f"{name}: undefined TeX macro(s): {sorted(set(undefined))}")
    # any math element whose text still holds TeX delimiters was not typeset
    raw = re.findall(r'<(?:div|span) class="math[^"]*">\s*(\$\$|\\\[|\\\(|\$)', dom)
    if raw:
        problems.append(f"{name}: {len(raw)} math element(s) left as raw TeX")
    return problems


def test_intro_math_renders_offline(html_dir, chromium, tmp_path):
    page = html_dir / "intro.html"
    assert page.exists(), f"{page} missing"
    proc, requested = _render(chromium, page, tmp_path, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-3000:]
    dom = proc.stdout
    problems = _check_rendered(page, dom, requested)
    assert not problems, "\n".join(problems)
    # the introduction holds display equations ($$ ... $$): they must all be typeset
    assert _parse(dom).mjx >= 10, "the introduction should show at least 10 typeset formulas"


def test_every_page_renders_offline(html_dir, chromium, tmp_path):
    """Every other page: no network request; where it has math, MathJax typesets all of it."""
    problems = []
    for page in _pages(html_dir):
        if page.name == "intro.html" and page.parent == html_dir:
            continue  # checked above
        has_math = _parse(page.read_text(encoding="utf-8")).math > 0
        proc, requested = _render(chromium, page, tmp_path / page.parent.name, "--dump-dom")
        if proc.returncode != 0:
            problems.append(f"{page.name}: chromium failed: {proc.stderr[-500:]}")
            continue
        problems += _check_rendered(page, proc.stdout, requested, has_math)
    assert not problems, "\n".join(problems)


def test_intro_screenshot(html_dir, chromium, tmp_path):
    out_dir = Path(os.environ.get("OGM_SCREENSHOT_DIR") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    shot = out_dir / "intro.png"
    proc, _ = _render(chromium, html_dir / "intro.html", tmp_path, f"--screenshot={shot}", "--window-size=1200,1600")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert shot.is_file() and shot.stat().st_size > 20_000, "screenshot missing or blank"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------
# the book's look (issue 25): measured in the browser at 1280 px, on the executed notebooks

WINDOW = "--window-size=1280,1000"
#: the script appended to a copy of a page: measures the content column, its tables, cells and figures once the
#: page has loaded (every <details> opened first), and writes them as JSON into <pre id="ogm-measure">
MEASURE_JS = """<script>
var ogmDone = false;
function ogmMeasure() {
  if (ogmDone) { return; }
  ogmDone = true;
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  var col = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  var res = {column: col.getBoundingClientRect().width, tables: [], dots: [], imgs: []};
  col.querySelectorAll('table').forEach(function (t) {
    res.tables.push({width: t.getBoundingClientRect().width, cls: t.className});
  });
  col.querySelectorAll('td, th').forEach(function (c) {
    var s = c.textContent.trim();
    if (/(\\.\\.\\.|\\u2026)$/.test(s)) { res.dots.push(s.slice(-80)); }
  });
  col.querySelectorAll('.cell_output img, .output img').forEach(function (i) {
    res.imgs.push({src: i.getAttribute('src'), attr: parseFloat(i.style.width) || i.getAttribute('width'),
                   natural: i.naturalWidth,
                   shown: i.getBoundingClientRect().width});
  });
  var pre = document.createElement('pre'); pre.id = 'ogm-measure'; pre.textContent = JSON.stringify(res);
  document.body.appendChild(pre);
}
window.addEventListener('load', function () { setTimeout(ogmMeasure, 300); });
setTimeout(ogmMeasure, 6000);   // virtual time: a page whose load event never fires is measured anyway
</script>"""


def _chapters(html_dir: Path) -> list[Path]:
    return sorted((html_dir / "notebooks").glob("[0-9][0-9]_*.html"))


def _measure(chromium: str, page: Path, tmp: Path) -> dict:
    """Open a copy of `page` (a <base> pointing at the original's folder, `MEASURE_JS` appended) at 1280 px."""
    import json

    text = page.read_text(encoding="utf-8")
    base = f'<base href="{page.parent.as_uri()}/">'
    text = re.sub(r"<head([^>]*)>", lambda m: f"<head{m.group(1)}>{base}", text, count=1)
    text = text.replace("</body>", MEASURE_JS + "</body>")
    copy = tmp / f"measure-{page.stem}.html"
    copy.write_text(text, encoding="utf-8")
    for _ in range(3):  # on a loaded machine Chromium can dump the DOM before the script has run: try again
        proc, _ = _render(chromium, copy, tmp, "--dump-dom", WINDOW)
        assert proc.returncode == 0, proc.stderr[-2000:]
        m = re.search(r'<pre id="ogm-measure">(.*?)</pre>', proc.stdout, re.S)
        if m:
            break
    assert m, f"{page.name}: the measuring script did not run"
    import html as _html

    return json.loads(_html.unescape(m.group(1)))


def test_no_table_wider_than_the_column_and_no_cell_cut(html_dir, chromium, tmp_path):
    problems = []
    for page in [html_dir / "intro.html", *_chapters(html_dir)]:
        m = _measure(chromium, page, tmp_path)
        for t in m["tables"]:
            if t["width"] > m["column"] + 1:
                problems.append(
                    f"{page.name}: a table ({t['cls'] or 'no class'}) is {t['width']:.0f} px wide in a "
                    f"{m['column']:.0f} px column"
                )
        for s in m["dots"]:
            problems.append(f"{page.name}: a cell ends in '...': {s!r}")
    assert not problems, "\n".join(problems)


def test_every_figure_has_its_intended_size(html_dir, chromium, tmp_path):
    """Each figure's PNG is 2 image pixels per CSS pixel (`figure_style`: 200 dpi shown at 100 CSS px per inch),
    it carries that width, and it is shown at that width (not squeezed by a narrower column)."""
    from ogm_lib.report.figure_style import intended_css_width

    problems, seen = [], 0
    for page in _chapters(html_dir):
        m = _measure(chromium, page, tmp_path)
        for img in m["imgs"]:
            seen += 1
            name = f"{page.name}: {img['src']}"
            if not img["attr"]:
                problems.append(f"{name}: no width (not drawn by figure_style)")
                continue
            want = intended_css_width(img["natural"])
            if abs(float(img["attr"]) - want) > 1:
                problems.append(f"{name}: width {img['attr']} for {img['natural']} px (want {want})")
            if abs(img["shown"] - float(img["attr"])) > 1:
                problems.append(f"{name}: shown {img['shown']:.0f} px wide, intended {img['attr']}")
    assert seen, "no figure in any chapter"
    assert not problems, "\n".join(problems)


def test_every_chapter_has_its_rerun_box(html_dir):
    pages = _chapters(html_dir)
    assert pages
    missing = [
        p.name
        for p in pages
        if f'class="admonition ogm-rerun" data-chapter="{p.stem}"' not in p.read_text(encoding="utf-8")
    ]
    assert not missing, f"chapters without their rerun box: {missing}"


def test_every_page_links_the_repository(html_dir):
    from ogm_lib.report.findings import repository_url

    url = repository_url()
    missing = [
        str(p.relative_to(html_dir))
        for p in _pages(html_dir)
        if p.name != "index.html" and f'href="{url}' not in p.read_text(encoding="utf-8")
    ]  # index: a redirect
    assert not missing, f"pages without a link to {url}: {missing}"


def _box_counts(text: str) -> dict[str, int]:
    import html as _html

    box = re.search(r'<div class="admonition ogm-findings">(.*?)</div>', text, re.S)
    assert box, "no findings box"
    return {
        _html.unescape(lab): int(n)
        for lab, n in re.findall(r'class="ogm-count" data-label="([^"]+)" data-count="(\d+)"', box.group(1))
    }


def test_findings_box_equals_chapter_10(html_dir):
    """The landing page's and chapter 10's boxes show the same counts, and they are chapter 10's own numbers (its
    'In short' paragraph, `fin_counts`)."""
    import html as _html

    intro = (html_dir / "intro.html").read_text(encoding="utf-8")
    ch10 = (html_dir / "notebooks" / "10_verdicts.html").read_text(encoding="utf-8")
    a, b = _box_counts(intro), _box_counts(ch10)
    assert a and a == b, f"landing page {a} != chapter 10 {b}"
    total = re.search(r'class="ogm-total" data-count="(\d+)"', intro)
    assert total and int(total.group(1)) == sum(a.values())
    # Sphinx's smart quotes turn the prose's "paper's" into "paper’s"; the box keeps the plain apostrophe
    plain = _html.unescape(re.sub(r"<[^>]+>", "", ch10)).replace("\u2019", "'")
    m = re.search(r"Over all chapters, by our protocol:(.*?)\. By the", plain, re.S)
    assert m, "chapter 10 has no 'Over all chapters, by our protocol:' sentence"
    for label, n in a.items():
        found = re.search(rf"(\d+) {re.escape(label)}\b", m.group(1))
        assert found and int(found.group(1)) == n, f"{label}: box {n}, chapter 10 says {m.group(1)!r}"
    assert intro.index("ogm-findings") < intro.index('<section id="the-problem')  # at the top of the page


def test_screenshots_at_1280(html_dir, chromium, tmp_path):
    out_dir = Path(os.environ.get("OGM_SCREENSHOT_DIR") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    for page in (
        html_dir / "intro.html",
        html_dir / "notebooks" / "01_imbalance.html",
        html_dir / "notebooks" / "10_verdicts.html",
    ):
        shot = out_dir / f"{page.stem}-1280.png"
        proc, _ = _render(chromium, page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert shot.is_file() and shot.stat().st_size > 20_000
