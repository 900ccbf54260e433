"""Keep the locally served MathJax out of every page's <script> list.

Jupyter Book 1.x adds *every* ``.js`` and ``.css`` file found under ``book/_static`` to
``html_js_files`` / ``html_css_files`` (jupyter_book/config.py), i.e. it would load all of MathJax's
~70 component files on every page. MathJax must only be loaded once, through ``mathjax_path``
(sphinx.ext.mathjax, only on pages that contain math). This extension removes the files under
``_static/mathjax/`` from those lists before the HTML builder reads them.
"""

from __future__ import annotations

MATHJAX_DIR = "mathjax/"


def _not_mathjax(entry) -> bool:
    name = entry[0] if isinstance(entry, (tuple, list)) else entry
    return not str(name).startswith(MATHJAX_DIR)


def _filter(app, config) -> None:
    config.html_js_files = [e for e in config.html_js_files if _not_mathjax(e)]
    config.html_css_files = [e for e in config.html_css_files if _not_mathjax(e)]


def setup(app):
    # priority < 500: run before the HTML builder and other extensions look at the lists
    app.connect("config-inited", _filter, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
