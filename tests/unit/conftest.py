"""Fixtures for the pure-domain tests: the shipped campaign definitions."""
import pytest

from common.campaign import load_builtin_definitions


@pytest.fixture(scope="session")
def builtin():
    return load_builtin_definitions()


@pytest.fixture(scope="session")
def ministry(builtin):
    return builtin["siyige-2020"]


@pytest.fixture(scope="session")
def seu(builtin):
    return builtin["siyige-2020-seu"]


@pytest.fixture(scope="session")
def wust(builtin):
    return builtin["siyige-2020-wust"]
