"""The book's table of contents, `book/_toc.yml`, written from the chapter registry (`chapters.py`).

    python -m ogm_lib book toc            # write book/_toc.yml
    python -m ogm_lib book toc --check    # exit 1 if the file differs from the registry

The file lists, part by part (`chapters.PARTS`), the part's pages that are not chapters (`chapters.PAGES`)
and then its chapters' notebooks in the registry's order (`chapters.CHAPTERS`); `tests/test_chapters.py` fails
when the committed file and the registry differ, or when the registry's order is not the order of its parts.
"""

from __future__ import annotations

from pathlib import Path

from .chapters import CHAPTERS, PAGES, PARTS, ROOT_PAGE

TOC = Path(__file__).resolve().parents[2] / "book" / "_toc.yml"
HEADER = """\
# Jupyter Book 1.x table of contents. Paths are relative to book/, and Sphinx only builds sources
# under book/: book/notebooks is a link to ../notebooks/, where the executed notebooks live.
# scripts/build_book.sh executes (and the tests nbval-check) the notebooks listed here.
# Written from ogm_lib/recipe/chapters.py by `python -m ogm_lib book toc`: edit the registry, not this file.
"""


def parts() -> list[tuple[str, list[str]]]:
    """(caption, its files relative to book/) for every part, in order."""
    return [
        (part, [*PAGES.get(part, ()), *(f"notebooks/{c.name}" for c in CHAPTERS if c.part == part)]) for part in PARTS
    ]


def toc_text() -> str:
    """The text of `book/_toc.yml`."""
    lines = [HEADER.rstrip("\n"), "format: jb-book", f"root: {ROOT_PAGE}", "parts:"]
    for caption, files in parts():
        lines += [f"  - caption: {caption}", "    chapters:"] + [f"      - file: {f}" for f in files]
    return "\n".join(lines) + "\n"


def write(path: Path = TOC) -> bool:
    """Write the table of contents; whether the file changed."""
    text = toc_text()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def check(path: Path = TOC) -> bool:
    """Whether the file is the registry's table of contents."""
    return path.exists() and path.read_text(encoding="utf-8") == toc_text()
