"""The one way a test says it needs an outside program or service (Node, Redis, nginx, ...).

Under ``CI=true`` a missing requirement fails the test; elsewhere it is skipped with a message
saying what to install. The root conftest also turns every other skip into a failure under
``CI=true``, except skips made with :func:`skip_reference` (tests that do not apply to the Node
reference server checked with ``AIOSIO_REFERENCE=1``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = [
    "IN_CI",
    "REFERENCE_SKIP",
    "ROOT",
    "missing",
    "require",
    "require_node",
    "skip_reference",
]

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
#: Prefix of the only skip reason allowed under ``CI=true``.
REFERENCE_SKIP = "reference mode: "


def missing(what: str) -> NoReturn:
    """``what`` is needed and absent: fail under ``CI=true``, skip otherwise."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not available")


def require(what: str, present: bool) -> None:
    """Call :func:`missing` unless ``present``."""
    if not present:
        missing(what)


def require_node(*packages: str) -> str:
    """The ``node`` binary, with each npm package installed in node_modules; else :func:`missing`."""
    binary = shutil.which("node")
    require("node", binary is not None)
    for package in packages:
        require(f"npm {package} (run `npm ci`)", (ROOT / "node_modules" / package).is_dir())
    assert binary is not None
    return binary


def skip_reference(reason: str) -> NoReturn:
    """Skip a case that does not apply to the Node reference server (``AIOSIO_REFERENCE=1``)."""
    pytest.skip(REFERENCE_SKIP + reason)
