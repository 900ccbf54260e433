"""The ground: facts every wing stands on, importing nothing of the project.

The paper's reported numbers (`paper.py`), the published re-runs of OGM-GE (`ledger.py`, `ledger.json`)
and the data catalogue (`catalogue.py`: dataset names, split rules, preprocessing versions, pinned
fingerprints). These are quoted or fixed, never computed.
"""
