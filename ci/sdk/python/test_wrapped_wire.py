"""A 2026-07-28 window of a wrapped server, line by line, checked against the official schema.

A real `exai-shim -- node server-everything stdio` is spoken to in raw 2026-07-28 lines (no
`initialize`; every request names its version, client and capabilities in `_meta`), as a
stateless editor would. server-everything speaks the handshake era with the hub, so every member
2026-07-28 requires and the server does not send (`resultType`, `_meta` serverInfo, `ttlMs` and
`cacheScope` on lists and reads) is the hub's; each result goes through `mcp-types`' official
validator for 2026-07-28 and the stricter checks of `test_wire.check_result`, each progress
notification through `methods.parse_server_notification`. The server announces
`tools/list_changed` as soon as it is initialized and logs on its own: `Wire.answer` fails on any
notification a request did not ask for, so neither reaches the stateless window.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Hub, unique
from mcp_types import methods
from test_wire import PROTOCOL_VERSION, STATELESS, Wire, check_result
from test_wrapped import everything, node

SERVER = "mcp-servers/everything"


@pytest.fixture
def modern(hub: Hub):
    shim = Wire(hub, unique("wire-wrapped"), STATELESS, [node(), str(everything()), "stdio"], server=SERVER)
    yield shim
    shim.close()


def test_discover_and_every_kind_of_result_validate(modern: Wire) -> None:
    discover = modern.result("server/discover")
    assert discover["supportedVersions"][-1] == STATELESS, discover
    assert discover["ttlMs"] == 0 and discover["cacheScope"] == "private", discover
    capabilities = discover["capabilities"]
    assert {"tools", "prompts", "resources"} <= set(capabilities), capabilities
    # `listChanged` and `subscribe` promise a `subscriptions/listen` stream the hub does not offer.
    for kind in ("tools", "prompts", "resources"):
        assert "listChanged" not in capabilities[kind] and "subscribe" not in capabilities[kind], capabilities

    tools = modern.result("tools/list")
    assert "echo" in [tool["name"] for tool in tools["tools"]], tools
    assert tools["ttlMs"] == 0 and tools["cacheScope"] == "private", tools
    payload = f"héllo ✓ 日本 {unique('wire')}"
    echo = modern.result("tools/call", {"name": "echo", "arguments": {"message": payload}})
    assert echo["content"] == [{"type": "text", "text": f"Echo: {payload}"}], echo

    prompts = modern.result("prompts/list")
    assert "simple-prompt" in [prompt["name"] for prompt in prompts["prompts"]], prompts
    prompt = modern.result("prompts/get", {"name": "simple-prompt"})
    assert prompt["messages"][0]["role"] == "user", prompt
    completion = modern.result(
        "completion/complete",
        {"ref": {"type": "ref/prompt", "name": "completable-prompt"}, "argument": {"name": "department", "value": "En"}},
    )
    assert completion["completion"]["values"] == ["Engineering"], completion

    resources = modern.result("resources/list")
    assert resources["resources"], resources
    modern.result("resources/templates/list")
    read = modern.result("resources/read", {"uri": resources["resources"][0]["uri"]})
    assert read["contents"][0]["uri"] == resources["resources"][0]["uri"], read


def test_progress_reaches_the_stateless_window_in_its_shape(modern: Wire) -> None:
    modern.result("server/discover")
    token = f"tok-{unique('p')}"
    notifications: list[dict[str, Any]] = []
    arguments = {"duration": 1, "steps": 3}
    request_id = modern.request("tools/call", {"name": "trigger-long-running-operation", "arguments": arguments}, progressToken=token)
    line = modern.answer(request_id, notifications)
    assert "result" in line, line
    check_result("tools/call", STATELESS, line["result"], SERVER)
    values = []
    for notification in notifications:
        assert notification["method"] == "notifications/progress", notification
        params = notification["params"]
        methods.parse_server_notification("notifications/progress", STATELESS, params)
        assert params["progressToken"] == token, params
        values.append(params["progress"])
    assert values == [1, 2, 3], notifications


def test_an_unknown_version_gets_minus_32022_from_the_hub(modern: Wire) -> None:
    modern.send({"id": "v", "method": "tools/list", "params": {"_meta": {PROTOCOL_VERSION: "2099-01-01"}}})
    error = modern.answer("v")["error"]
    assert error["code"] == -32022, error
    assert "2026-07-28" in error["data"]["supported"] and error["data"]["requested"] == "2099-01-01", error
