"""The book's recipe: which runs the book trains, and the rules that chose them.

The chapters' rows (`book.py`, `table7.py`, `plugins.py`), the default data's regimes and their calibration
rules (`regimes.py`), the testbed search and its criteria (`testbed.py`, `phenomenon.py`), the seed rule
(`rows.py`) and the one grid runner every list of runs goes through (`grid.py`, on the executors of
`executors.py`). It builds on the method wing (`ogm_lib/method`) and the ground; it never reads a table.
"""
