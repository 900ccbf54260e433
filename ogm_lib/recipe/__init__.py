"""The book's recipe: which runs the book trains, and the rules that chose them.

The chapter registry (`chapters.py`: every chapter's notebook, part, title, rows, seeds, claims and parameters;
the table of contents is written from it, `toc.py`), the chapters' rows and the seed rule (`book.py`,
`plugins.py`), the default data's regimes and their calibration rules (`regimes.py`), the testbed search and
its criteria (`testbed.py`, `phenomenon.py`), the runs the report reads, trained or read back (`runs.py`,
`verdict_runs.py`, `noise_model.py`: the report trains nothing) and the one grid runner every list of runs goes
through (`grid.py`, on the executors of `executors.py`). It builds on the method wing (`ogm_lib/method`) and the
ground; it never reads a table.
"""
