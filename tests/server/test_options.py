"""Typed options: a misspelt option fails at type-check time and at run time, values are validated,
and what a Server is given reaches its engine (and the client sees it)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import aiosio
from aiosio import EngineOptions, EngineServer, RecoveryOptions, Server

SRC = Path(aiosio.__file__).parent.parent


# -- run time --------------------------------------------------------------------------------------


def test_a_misspelt_engine_option_is_named_with_the_close_match() -> None:
    with pytest.raises(TypeError) as caught:
        Server(ping_intervl=5)  # type: ignore[call-arg]
    message = str(caught.value)
    assert "'ping_intervl'" in message
    assert "did you mean 'ping_interval'?" in message


def test_a_misspelt_server_option_is_named_with_the_close_match() -> None:
    with pytest.raises(TypeError, match="'conect_timeout'; did you mean 'connect_timeout'"):
        Server(conect_timeout=5)  # type: ignore[call-arg]


def test_an_unknown_option_without_a_close_match() -> None:
    with pytest.raises(TypeError) as caught:
        Server(zzz=1)  # type: ignore[call-arg]
    assert str(caught.value) == "Server() got an unexpected keyword argument 'zzz'"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"ping_interval": 0}, "ping_interval"),
        ({"ping_timeout": -1}, "ping_timeout"),
        ({"upgrade_timeout": True}, "upgrade_timeout"),
        ({"max_http_buffer_size": 0}, "max_http_buffer_size"),
        ({"max_write_buffer_size": -5}, "max_write_buffer_size"),
        ({"transports": ["polling", "carrier-pigeon"]}, "transports"),
        ({"transports": "websocket"}, "transports"),
        ({"transports": []}, "transports"),
    ],
)
def test_bad_values_are_refused_by_name(options: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Server(**options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=named):
        EngineOptions(**options)  # type: ignore[arg-type]


def test_the_engine_keeps_its_options_validated_and_frozen() -> None:
    io = Server(ping_interval=5, ping_timeout=2, transports=["websocket"], path="sio")
    options = io.engine.options
    assert isinstance(options, EngineOptions)
    assert options.ping_interval == 5.0
    assert isinstance(options.ping_interval, float)
    assert options.transports == ("websocket",)
    assert options.path == "/sio/"
    # the engine's attributes say the same
    assert io.engine.ping_interval == 5.0
    assert io.engine.ping_timeout == 2.0
    assert io.engine.transports == ("websocket",)
    assert io.engine.path == "/sio/"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.ping_interval = 1.0  # type: ignore[misc]
    assert EngineServer().options == EngineOptions()


def test_recovery_options_as_a_dataclass_a_dict_or_true() -> None:
    given = RecoveryOptions(max_disconnection_duration=30, skip_middlewares=False)
    assert Server(connection_state_recovery=given).recovery is given
    assert given.max_disconnection_duration == 30.0
    from_dict = Server(connection_state_recovery={"max_disconnection_duration": 30}).recovery
    assert from_dict == RecoveryOptions(max_disconnection_duration=30.0, skip_middlewares=True)
    assert Server(connection_state_recovery=True).recovery == RecoveryOptions()
    assert Server(connection_state_recovery=False).recovery is None
    assert Server().recovery is None
    with pytest.raises(ValueError, match="max_disconection_duration"):
        Server(connection_state_recovery={"max_disconection_duration": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_disconnection_duration"):
        RecoveryOptions(max_disconnection_duration=-1)
    with pytest.raises(TypeError, match="connection_state_recovery"):
        Server(connection_state_recovery="yes")  # type: ignore[arg-type]


async def test_the_options_reach_the_client_in_the_handshake() -> None:
    io = Server(ping_interval=7, ping_timeout=3, max_http_buffer_size=5000)
    port = await io.listen(0)
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"http://127.0.0.1:{port}/socket.io/", params={"EIO": "4", "transport": "polling"}
            )
        assert response.status_code == 200
        assert response.text[0] == "0"
        handshake = json.loads(response.text[1:])
        assert handshake["pingInterval"] == 7000
        assert handshake["pingTimeout"] == 3000
        assert handshake["maxPayload"] == 5000
    finally:
        await io.close()


# -- type-check time ---------------------------------------------------------------------------------

SNIPPET = """\
import aiosio

ok = aiosio.Server(ping_interval=5, cors="*", connection_state_recovery={"skip_middlewares": False})
misspelt = aiosio.Server(ping_intervl=5)
wrong_type = aiosio.Server(ping_timeout="20")
bad_recovery = aiosio.Server(connection_state_recovery={"max_disconection_duration": 3})
"""


def test_mypy_reports_a_misspelt_option(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(SNIPPET)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(snippet),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": str(SRC)},
        timeout=300,
        check=False,
    )
    lines = result.stdout.splitlines()
    errors = [line for line in lines if ": error:" in line]
    assert result.returncode == 1, result.stdout + result.stderr
    assert any(
        "snippet.py:4:" in line and '"ping_intervl"' in line and '"ping_interval"' in line
        for line in errors
    ), result.stdout
    assert any("snippet.py:5:" in line and "ping_timeout" in line for line in errors), result.stdout
    assert any("snippet.py:6:" in line for line in errors), result.stdout
    assert not any("snippet.py:3:" in line for line in errors), result.stdout
