"""Fixtures of the deployment tests."""

from __future__ import annotations

import secrets

import pytest


@pytest.fixture
def key() -> str:
    """A fresh Redis channel prefix."""
    return f"t{secrets.token_hex(4)}"
