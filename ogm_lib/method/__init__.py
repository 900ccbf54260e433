"""The method wing: OGM-GE and what it trains.

A run's whole life, from a `RunConfig` (`config.py`) to a `RunResult` (`results.py`): the data (`data/`),
the models (`models/`), the paper's equations (`modulation.py`: Eq. 9-11 and 13, `noise.py`: GE's noise),
the other balancing methods (`strategies.py`), and the training loop (`train.py`: `train_step` is
Algorithm 1, `fit` trains or reads a run back). Nothing here knows the book: it imports only the ground
(`ogm_lib/ground`) and itself.
"""
