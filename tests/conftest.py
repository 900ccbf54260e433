"""Fixtures shared by several test files."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """One torch thread for the test: on the 2-core machine, several processes (DDP ranks) or threads
    fighting over the cores would crawl."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
