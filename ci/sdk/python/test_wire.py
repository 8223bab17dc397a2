"""Every line the hub emits, per protocol version, checked against the official schemas.

A real `exai-shim` (started with the SDK's default environment) is spoken to in raw JSON-RPC
lines for each version from 2024-11-05 to 2026-07-28. Each result goes through the official
validator of the `mcp-types` package (`methods.validate_server_result`, the per-version wire
shapes), and each notification through `methods.parse_server_notification`. That validator
ignores extra fields, so the checks here also reject what a version does not define: no
`resultType`, `ttlMs`, `cacheScope` or `_meta` before 2026-07-28, no progress `message` in
2024-11-05, no `serverInfo.title` before 2025-06-18.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import threading
from collections import deque
from typing import Any

import pytest
from conftest import GUARD_S, Events, Hub, binary, unique
from mcp.client.stdio import get_default_environment
from mcp_types import methods

VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"]
STATELESS = "2026-07-28"
PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
SERVER_INFO = "io.modelcontextprotocol/serverInfo"
CACHEABLE = {"server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"}


class Wire:
    """One shim, spoken to in raw JSON-RPC lines."""

    def __init__(self, hub: Hub, label: str, version: str, command: list[str] | None = None, server: str = "exai-hub") -> None:
        self.version = version
        self.label = label
        # Who names itself in 2026 results: the hub, or the wrapped server (`command`).
        self.server = server
        wrap = ["--", *command] if command else []
        self.proc = subprocess.Popen(
            [*hub.shim_argv(label), *wrap],
            env=get_default_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr: deque[bytes] = deque(maxlen=100)
        self.ids = itertools.count(1)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            assert raw.endswith(b"\n") and not raw.endswith(b"\r\n"), raw
            self.lines.put(json.loads(raw))
        self.lines.put(None)

    def meta(self, **extra: Any) -> dict[str, Any]:
        """`_meta` for a request: the stateless era names its version and client on every one."""
        meta = dict(extra)
        if self.version == STATELESS:
            meta[PROTOCOL_VERSION] = STATELESS
            meta["io.modelcontextprotocol/clientInfo"] = {"name": "wire-test", "version": "1"}
            meta["io.modelcontextprotocol/clientCapabilities"] = {}
        return meta

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any] | None = None, request_id: Any = None, **meta: Any) -> Any:
        request_id = next(self.ids) if request_id is None else request_id
        params = dict(params or {})
        if self.meta(**meta):
            params["_meta"] = self.meta(**meta)
        self.send({"id": request_id, "method": method, **({"params": params} if params else {})})
        return request_id

    def next(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=GUARD_S)
        except queue.Empty:
            pytest.fail(f"no line from the shim within {GUARD_S} s:\n{b''.join(self.stderr).decode()}")
        if line is None:
            pytest.fail(f"the shim exited ({self.proc.poll()}):\n{b''.join(self.stderr).decode()}")
        assert line.get("jsonrpc") == "2.0", line
        return line

    def answer(self, request_id: Any, notifications: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Reads up to the response to `request_id`; notifications before it go to the list."""
        while True:
            line = self.next()
            if "method" in line:
                assert "id" not in line, f"the hub sent a request: {line}"
                assert notifications is not None, f"unexpected notification: {line}"
                notifications.append(line)
                continue
            assert line["id"] == request_id and type(line["id"]) is type(request_id), (
                f"expected the answer to {request_id!r}, got {line}"
            )
            return line

    def result(self, method: str, params: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
        line = self.answer(self.request(method, params, **meta))
        assert "result" in line, line
        check_result(method, self.version, line["result"], self.server)
        return line["result"]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=GUARD_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("the shim did not exit after its stdin closed")


def check_result(method: str, version: str, result: dict[str, Any], server: str = "exai-hub") -> None:
    """The official validator, plus what it lets through but the version does not define."""
    if (method, version) in methods.SERVER_RESULTS:
        methods.validate_server_result(method, version, result)
    else:
        # `ping` has no 2026-07-28 row (the revision dropped it); a dual-era server may still
        # answer it, with the one field every 2026 result needs.
        assert (method, version) == ("ping", STATELESS), (method, version)
        assert set(result) == {"resultType", "_meta"}, result
    if version == STATELESS:
        assert result["resultType"] == "complete", result
        info = result["_meta"][SERVER_INFO]
        assert info["name"] == server and isinstance(info["version"], str), result
        if method in CACHEABLE:
            assert isinstance(result["ttlMs"], int) and result["ttlMs"] >= 0, result
            assert result["cacheScope"] in ("public", "private"), result
    else:
        for field in ("resultType", "ttlMs", "cacheScope", "_meta"):
            assert field not in result, f"{version} {method}: {field} is not defined there: {result}"
    if method == "initialize":
        titled = version >= "2025-06-18"
        assert ("title" in result["serverInfo"]) == titled, result


def check_progress(version: str, notification: dict[str, Any], token: Any) -> dict[str, Any]:
    assert notification["method"] == "notifications/progress", notification
    params = notification["params"]
    methods.parse_server_notification("notifications/progress", version, params)
    assert params["progressToken"] == token and type(params["progressToken"]) is type(token), params
    if version == "2024-11-05":
        assert set(params) == {"progressToken", "progress"}, f"2024-11-05 progress has no message: {params}"
    else:
        assert set(params) == {"progressToken", "progress", "message"}, params
    return params


def handshake(wire: Wire) -> None:
    if wire.version == STATELESS:
        discover = wire.result("server/discover")
        assert discover["supportedVersions"] == VERSIONS, discover
        assert discover["capabilities"] == {"tools": {}}, "no listChanged without subscriptions/listen"
    else:
        params = {"protocolVersion": wire.version, "capabilities": {}, "clientInfo": {"name": "wire-test", "version": "1"}}
        init = wire.result("initialize", params)
        assert init["protocolVersion"] == wire.version, init
        assert init["capabilities"] == {"tools": {"listChanged": True}}, init
        wire.send({"method": "notifications/initialized"})


@pytest.fixture(params=VERSIONS)
def wire(request: pytest.FixtureRequest, hub: Hub):
    version = request.param
    shim = Wire(hub, unique(f"wire-{version}"), version)
    handshake(shim)
    yield shim
    shim.close()


def test_results_validate(wire: Wire) -> None:
    version = wire.version
    ping = wire.result("ping")
    if version != STATELESS:
        assert ping == {}, "an empty result before 2026-07-28"

    tools = wire.result("tools/list")
    names = [tool["name"] for tool in tools["tools"]]
    assert {"echo", "slow"} <= set(names), names
    if version == STATELESS:
        assert tools["ttlMs"] == 30_000 and tools["cacheScope"] == "private", tools

    payload = f"héllo ✓ 日本 {unique(version)}"
    echo = wire.result("tools/call", {"name": "echo", "arguments": {"text": payload}})
    assert echo["content"] == [{"type": "text", "text": payload}] and echo["isError"] is False, echo

    # An unknown method is an error, the id kept with its type.
    line = wire.answer(wire.request("prompts/list", request_id=f"s-{version}"))
    assert line["error"]["code"] == -32601, line


def test_progress_notifications_validate(wire: Wire) -> None:
    version = wire.version
    token = f"tok-{version}" if version < "2025-06-18" else 7
    chunk = unique("chunk")
    notifications: list[dict[str, Any]] = []
    request_id = wire.request("tools/call", {"name": "slow", "arguments": {"ms": 300, "chunks": [chunk]}}, progressToken=token)
    line = wire.answer(request_id, notifications)
    check_result("tools/call", version, line["result"])
    assert line["result"]["content"][0]["text"] == '{"slept_ms":300}', line
    assert len(notifications) >= 2, notifications
    updates = [check_progress(version, notification, token) for notification in notifications]
    values = [update["progress"] for update in updates]
    assert values == sorted(set(values)), f"progress must increase: {values}"
    if version != "2024-11-05":
        assert chunk in [update["message"] for update in updates], updates


def test_unsupported_meta_version_is_refused_with_the_supported_ones(wire: Wire) -> None:
    params = {"_meta": {PROTOCOL_VERSION: "2099-01-01"}}
    wire.send({"id": "v", "method": "tools/list", "params": params})
    line = wire.answer("v")
    error = line["error"]
    assert error["code"] == -32022, line
    assert error["data"] == {"supported": VERSIONS, "requested": "2099-01-01"}, line
    # The window goes on in its own version.
    wire.result("ping")


def test_a_cancelled_call_is_never_answered(wire: Wire, hub: Hub, events: Events) -> None:
    version = wire.version
    notifications: list[dict[str, Any]] = []
    request_id = wire.request("tools/call", {"name": "slow", "arguments": {"ms": 2000, "chunks": [unique("c")]}}, progressToken="c")
    # The call runs once its first progress arrives.
    first = wire.next()
    check_progress(version, first, "c")
    wire.send({"method": "notifications/cancelled", "params": {"requestId": request_id, "reason": "test"}})
    hub.wait_cancelled(events, wire.label, "slow")
    # Once the daemon finished the call, its late result has reached the hub and been dropped:
    # the next answer on this window is the ping's, and nothing answered the cancelled id.
    hub.wait_idle(events)
    ping = wire.request("ping")
    wire.answer(ping, notifications)
    for line in notifications:
        assert line["method"] == "notifications/progress", line
        check_progress(version, line, "c")
    assert wire.lines.empty(), "nothing follows the ping's answer"
