"""Unit tests run with no network at all: a socket opened here is a bug in the test or the code."""

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network():
    disable_socket()
    yield
    enable_socket()
