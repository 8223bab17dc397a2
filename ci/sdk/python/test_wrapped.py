"""Wrapped MCP servers (`exai-shim -- COMMAND ...`) with the official Python SDK as the editors.

Several `ClientSession`s, each through its own real `exai-shim`, share one server instance in the
real `exai hub`: `@modelcontextprotocol/server-everything` (from ci/servers, `npm ci --prefix
ci/servers`) for elicitation, `ci/servers/lists-server.mjs` (node's own modules only) for
log levels, since it logs at every level its one level admits when asked, where
server-everything logs a random level every 5 s, and `fastmcp_server.py`, written with this
SDK's own server API, for concurrent calls and progress.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import GUARD_S, REPO, Events, Hub, unique
from mcp import Client, ClientSession, StdioServerParameters, stdio_client, types

pytestmark = pytest.mark.anyio

EVERYTHING = REPO / "ci/servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
LISTS_SERVER = REPO / "ci/servers/lists-server.mjs"
LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is missing: install Node.js 20 or later")
    return path


def everything() -> Path:
    if not EVERYTHING.is_file():
        message = "server-everything is not installed: run `npm ci --prefix ci/servers`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return EVERYTHING


def wrapped(hub: Hub, label: str, command: list[str]) -> StdioServerParameters:
    """An editor entry rewritten to go through the shim: `exai-shim ... -- COMMAND ARGS`."""
    shim, *args = hub.shim_argv(label)
    return StdioServerParameters(command=shim, args=[*args, "--", *command])


def texts(result: Any) -> str:
    assert result.is_error is False, result
    return "\n".join(item.text for item in result.content if item.type == "text")


async def test_client_with_default_arguments_speaks_2026_to_a_wrapped_server(hub: Hub, events: Events) -> None:
    """`Client()` as users write it (mode "auto": `server/discover`, then 2026-07-28) on a
    handshake-era server: the hub answers the probe from the server's `initialize` and gives
    every result the 2026 members the server left out, which the SDK checks for that version."""
    server = [node(), str(everything()), "stdio"]
    label = unique("py-modern")
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    with anyio.fail_after(4 * GUARD_S):
        async with Client(wrapped(hub, label, server)) as client:
            assert client.protocol_version == "2026-07-28"
            # The server's own name, from its `initialize` with the hub, not the hub's.
            assert client.server_info is not None and client.server_info.name != "exai-hub", client.server_info
            assert client.server_capabilities.tools is not None
            tools = await client.list_tools(cache_mode="refresh")
            assert {"echo", "trigger-long-running-operation"} <= {tool.name for tool in tools.tools}
            # A handshake-era server's lists are marked stale: the hub cannot promise more.
            assert tools.ttl_ms == 0 and tools.cache_scope == "private", tools
            payload = f"héllo ✓ 日本 {unique('echo')}"
            assert texts(await client.call_tool("echo", {"message": payload})) == f"Echo: {payload}"
            result = await client.call_tool(
                "trigger-long-running-operation", {"duration": 1, "steps": 3}, progress_callback=on_progress
            )
            assert "completed" in texts(result)
            assert [value for value, _, _ in progress] == [1, 2, 3], progress

            # A cancelled call: cancelled at the server under the hub's id, recorded by the hub.
            running = anyio.Event()

            async def on_first(value: float, total: float | None, message: str | None) -> None:
                running.set()

            outcome: list[Any] = []

            async def long_call() -> None:
                outcome.append(
                    await client.call_tool(
                        "trigger-long-running-operation", {"duration": 20, "steps": 20}, progress_callback=on_first
                    )
                )

            async with anyio.create_task_group() as group:
                group.start_soon(long_call)
                await running.wait()
                group.cancel_scope.cancel()
            assert outcome == [], "the cancelled call returned a result"

            def cancelled(event: dict[str, Any]) -> bool:
                if event.get("type") != "request_finished" or not event["request"]["cancelled"]:
                    return False
                session = hub.session(event["request"]["session"])
                return session is not None and session.get("name") == label

            record = await anyio.to_thread.run_sync(events.wait_for, f"a cancelled call from {label}", cancelled)
            assert record["request"]["method"] == "tools/call", record
            # The window still works after the cancel.
            assert texts(await client.call_tool("echo", {"message": "after"})) == "Echo: after"
            # The hub recorded the window's version and client from the requests' `_meta`.
            windows = [s for s in hub.sessions_named(label) if s["requests"] > 0]
            assert len(windows) == 1, hub.sessions_named(label)
            assert windows[0]["protocol_version"] == "2026-07-28", windows[0]
            assert windows[0]["server"] is not None, windows[0]


async def test_a_servers_elicitation_reaches_a_2026_client_as_input_required(hub: Hub) -> None:
    """server-everything asks `elicitation/create` during the call (a handshake-era server
    request); the default `Client()` speaks 2026-07-28, which has no server requests: the hub
    answers the call `input_required`, the SDK runs its callback and retries, and the retry's
    answer goes back to the server, whose result then answers the retry. A legacy window with
    the capability and a call in flight on the same instance is not asked."""
    server = [node(), str(everything()), "stdio"]
    asked: dict[str, list[Any]] = {"modern": [], "legacy": []}

    def answer(label: str, name: str):
        async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
            asked[label].append(params)
            return types.ElicitResult(action="accept", content={"name": name, "check": True})

        return callback

    with anyio.fail_after(4 * GUARD_S):
        async with (
            Client(wrapped(hub, unique("py-modern-ask"), server), elicitation_callback=answer("modern", "Ada, 2026")) as modern,
            stdio_client(wrapped(hub, unique("py-legacy-ask"), server)) as (read, write),
            ClientSession(read, write, elicitation_callback=answer("legacy", "the legacy window")) as legacy,
        ):
            assert modern.protocol_version == "2026-07-28"
            await legacy.initialize()
            in_flight = anyio.Event()
            legacy_result: list[Any] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                in_flight.set()

            async def legacy_call() -> None:
                legacy_result.append(
                    await legacy.call_tool(
                        "trigger-long-running-operation", {"duration": 1, "steps": 2}, progress_callback=on_progress
                    )
                )

            async with anyio.create_task_group() as group:
                group.start_soon(legacy_call)
                await in_flight.wait()
                result = await modern.call_tool("trigger-elicitation-request", {})
            body = texts(result)
            assert "Ada, 2026" in body, body
            assert len(asked["modern"]) == 1 and asked["legacy"] == [], asked
            assert "completed" in texts(legacy_result[0])


async def test_elicitation_reaches_only_the_window_whose_call_asked(hub: Hub) -> None:
    server = [node(), str(everything()), "stdio"]
    asked: dict[str, list[types.ElicitRequestParams]] = {"asker": [], "idle": []}

    def answer(label: str, name: str):
        async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
            asked[label].append(params)
            return types.ElicitResult(action="accept", content={"name": name, "check": True})

        return callback

    with anyio.fail_after(4 * GUARD_S):
        async with (
            stdio_client(wrapped(hub, unique("py-asker"), server)) as (read_a, write_a),
            ClientSession(read_a, write_a, elicitation_callback=answer("asker", "Ada in the asking window")) as asker,
            stdio_client(wrapped(hub, unique("py-idle"), server)) as (read_i, write_i),
            ClientSession(read_i, write_i, elicitation_callback=answer("idle", "the idle window")) as idle,
            stdio_client(wrapped(hub, unique("py-busy"), server)) as (read_b, write_b),
            ClientSession(read_b, write_b) as busy,
        ):
            for session in (asker, idle, busy):
                await session.initialize()
            # `busy` (no elicitation capability) has a call in flight on the same instance
            # while `asker` asks; `idle` declared elicitation but has nothing in flight.
            in_flight = anyio.Event()
            busy_result: list[Any] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                in_flight.set()

            async def busy_call() -> None:
                busy_result.append(
                    await busy.call_tool(
                        "trigger-long-running-operation",
                        {"duration": 1, "steps": 2},
                        progress_callback=on_progress,
                    )
                )

            async with anyio.create_task_group() as group:
                group.start_soon(busy_call)
                await in_flight.wait()
                result = await asker.call_tool("trigger-elicitation-request", {})
            body = texts(result)
            assert "Ada in the asking window" in body, body
            assert len(asked["asker"]) == 1 and asked["idle"] == [], asked
            assert "Please provide inputs" in asked["asker"][0].message
            assert "completed" in texts(busy_result[0])
            # The idle window still works and was never asked.
            assert texts(await idle.call_tool("echo", {"message": "still here"})) == "Echo: still here"
            assert asked["idle"] == []


# Logging is deprecated from 2026-07-28 on; these windows speak 2025-11-25, where it is not.
@pytest.mark.filterwarnings("ignore:The logging capability is deprecated")
async def test_log_levels_the_server_gets_the_most_verbose_and_each_window_its_own(hub: Hub, tmp_path: Path) -> None:
    lists = tmp_path / "lists.json"
    lists.write_text('{"tools": [{"name": "log", "inputSchema": {"type": "object"}}]}')
    # The lists file is this test's own, so the instance is too.
    server = [node(), str(LISTS_SERVER), str(lists)]
    got: dict[str, list[str]] = {"quiet": [], "verbose": []}

    def record(label: str):
        async def callback(params: types.LoggingMessageNotificationParams) -> None:
            got[label].append(params.level)

        return callback

    with anyio.fail_after(4 * GUARD_S):
        async with (
            stdio_client(wrapped(hub, unique("py-quiet"), server)) as (read_q, write_q),
            ClientSession(read_q, write_q, logging_callback=record("quiet")) as quiet,
            stdio_client(wrapped(hub, unique("py-verbose"), server)) as (read_v, write_v),
            ClientSession(read_v, write_v, logging_callback=record("verbose")) as verbose,
        ):
            await quiet.initialize()
            await verbose.initialize()
            await quiet.set_logging_level("error")
            await verbose.set_logging_level("debug")
            # The server logs at every level its own level admits before it answers.
            result = await quiet.call_tool("log", {})
            assert texts(result) == "level: debug", "the server was set to the most verbose level asked"
            # The messages reach each window before anything the server answers later.
            await verbose.call_tool("echo", {"message": "after"})
            assert got["quiet"] == LEVELS[LEVELS.index("error") :], got
            assert got["verbose"] == LEVELS, got
            # The verbose window asks for less: the server follows the quiet one's level.
            await verbose.set_logging_level("warning")
            got["quiet"].clear()
            got["verbose"].clear()
            assert texts(await verbose.call_tool("log", {})) == "level: warning"
            await quiet.call_tool("echo", {"message": "after"})
            assert got["quiet"] == LEVELS[LEVELS.index("error") :], got
            assert got["verbose"] == LEVELS[LEVELS.index("warning") :], got


async def test_a_fastmcp_server_shared_by_two_windows_runs_their_calls_at_once(hub: Hub) -> None:
    # The venv's python, which has the SDK; the window's minimal environment does not matter.
    server = [sys.executable, str(Path(__file__).with_name("fastmcp_server.py"))]
    labels = {"one": unique("py-fast-one"), "two": unique("py-fast-two")}
    progress: dict[str, list[str | None]] = {"one": [], "two": []}
    results: dict[str, Any] = {}
    with anyio.fail_after(4 * GUARD_S):
        async with (
            stdio_client(wrapped(hub, labels["one"], server)) as (read_1, write_1),
            ClientSession(read_1, write_1) as one,
            stdio_client(wrapped(hub, labels["two"], server)) as (read_2, write_2),
            ClientSession(read_2, write_2) as two,
        ):
            for session in (one, two):
                init = await session.initialize()
                assert init.server_info.name == "fastmcp-meeting"
            assert [tool.name for tool in (await two.list_tools()).tools] == ["meet"]

            async def call(who: str, session: ClientSession) -> None:
                async def on_progress(value: float, total: float | None, message: str | None) -> None:
                    progress[who].append(message)

                results[who] = await session.call_tool(
                    "meet", {"who": who, "expected": 2}, progress_callback=on_progress
                )

            # Each call waits for the other at the server: they meet only if both are in flight.
            async with anyio.create_task_group() as group:
                group.start_soon(call, "one", one)
                group.start_soon(call, "two", two)
            for who in ("one", "two"):
                assert texts(results[who]) == f"{who} met everyone"
                assert progress[who] == [f"{who} arrived", f"{who} met 1 other(s)"], progress
    # One process served both windows.
    servers = [s for s in hub.get("/api/snapshot")["servers"] if "fastmcp_server.py" in s["command"]]
    assert len(servers) == 1, servers
    assert servers[0]["restarts"] == 0
