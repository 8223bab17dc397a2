"""The official Python SDK (`mcp`) as users get it, through real `exai-shim` processes.

`Client()` with default arguments (mode "auto": `server/discover`, then 2026-07-28),
`Client(mode="legacy")` (`initialize`, 2025-11-25) and the low-level `ClientSession`. Each lists
the tools, calls one and checks the payload, gets progress, cancels a call (the hub records it
cancelled) and then still works. The SDK validates every result against its schema for the
negotiated version, so a result missing a required field fails the call itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from conftest import GUARD_S, Events, Hub, unique
from mcp import Client, ClientSession, StdioServerParameters, stdio_client

pytestmark = pytest.mark.anyio

CallTool = Callable[..., Awaitable[Any]]


def server(hub: Hub, label: str) -> StdioServerParameters:
    # No `env`: the SDK starts the shim with its default minimal environment, as for any user.
    command, *args = hub.shim_argv(label)
    return StdioServerParameters(command=command, args=args)


def text(result: Any) -> str:
    assert result.is_error is False, result
    assert result.content and result.content[0].type == "text", result
    return result.content[0].text


async def exercise(hub: Hub, events: Events, label: str, list_tools: Callable[[], Awaitable[Any]], call_tool: CallTool) -> None:
    """The same checks for every way of using the SDK."""
    with anyio.fail_after(GUARD_S):
        tools = await list_tools()
    names = {tool.name for tool in tools.tools}
    assert {"echo", "slow"} <= names, names

    # A call's payload comes back byte for byte (non-ASCII, quotes, a newline).
    payload = f'héllo "wörld" ✓ 日本\n{unique("echo")}'
    with anyio.fail_after(GUARD_S):
        assert text(await call_tool("echo", {"text": payload})) == payload

    # Progress: the fake daemon reports every 50 ms while `slow` runs, then streams its chunks.
    # A unique chunk keeps the daemon's result cache out of it.
    chunk = unique("chunk")
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    with anyio.fail_after(GUARD_S):
        result = await call_tool("slow", {"ms": 300, "chunks": [chunk]}, progress_callback=on_progress)
    assert text(result) == '{"slept_ms":300}'
    assert len(seen) >= 2, seen
    values = [progress for progress, _, _ in seen]
    assert values == sorted(set(values)), f"progress must increase: {seen}"
    assert chunk in [message for _, _, message in seen], f"the streamed chunk arrives as progress: {seen}"

    # Cancellation: cancel the awaiting task once the call is known to run (its first progress).
    running = anyio.Event()

    async def on_first_progress(progress: float, total: float | None, message: str | None) -> None:
        running.set()

    outcome: list[Any] = []

    async def long_call() -> None:
        outcome.append(await call_tool("slow", {"ms": 3000, "chunks": [unique("cancel")]}, progress_callback=on_first_progress))

    with anyio.fail_after(GUARD_S):
        async with anyio.create_task_group() as group:
            group.start_soon(long_call)
            await running.wait()
            group.cancel_scope.cancel()
    assert outcome == [], "the cancelled call returned a result"
    record = await anyio.to_thread.run_sync(hub.wait_cancelled, events, label, "slow")
    assert record["duration_ms"] < 3000, record

    # The window still works after the cancel.
    after = unique("after")
    with anyio.fail_after(GUARD_S):
        assert text(await call_tool("echo", {"text": after})) == after


def session_of(hub: Hub, label: str) -> dict[str, Any]:
    # The SDK may have started a short-lived probe process with the same label: take the window
    # that made calls.
    sessions = [s for s in hub.sessions_named(label) if s["requests"] > 0]
    assert len(sessions) == 1, hub.sessions_named(label)
    return sessions[0]


async def test_client_with_default_arguments_negotiates_2026(hub: Hub, events: Events) -> None:
    label = unique("py-auto")
    with anyio.fail_after(4 * GUARD_S):
        async with Client(server(hub, label)) as client:
            assert client.protocol_version == "2026-07-28"
            # The 2026 result's cache hints, as the SDK read them.
            tools = await client.list_tools(cache_mode="refresh")
            assert tools.ttl_ms == 30_000 and tools.cache_scope == "private", tools
            await exercise(hub, events, label, client.list_tools, client.call_tool)
            session = session_of(hub, label)
            assert session["protocol_version"] == "2026-07-28", session
            assert session["state"] == "ready", session


async def test_client_in_legacy_mode_negotiates_2025_11_25(hub: Hub, events: Events) -> None:
    label = unique("py-legacy")
    with anyio.fail_after(4 * GUARD_S):
        async with Client(server(hub, label), mode="legacy") as client:
            assert client.protocol_version == "2025-11-25"
            assert client.server_info is not None and client.server_info.name == "exai-hub"
            await exercise(hub, events, label, client.list_tools, client.call_tool)
            assert session_of(hub, label)["protocol_version"] == "2025-11-25"


async def test_low_level_client_session(hub: Hub, events: Events) -> None:
    label = unique("py-session")
    with anyio.fail_after(4 * GUARD_S):
        async with stdio_client(server(hub, label)) as (read, write), ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.protocol_version == "2025-11-25"
            assert init.server_info.name == "exai-hub"
            assert init.capabilities.tools is not None and init.capabilities.tools.list_changed is True
            await exercise(hub, events, label, session.list_tools, session.call_tool)
            assert session_of(hub, label)["protocol_version"] == "2025-11-25"
