"""Set-up shared by the Python SDK tests.

One fake EXAI daemon and one real `exai hub --dashboard` per test run, on a random endpoint name
(`--endpoint`), both started here and stopped by their pid; real `exai-shim` processes started the
way the SDK starts any stdio server (its default environment, no override), given the same
`--endpoint`; and a small client of the hub's dashboard API (JSON and Server-Sent Events) to see
what the hub recorded. Waiting is on lines and events, with `GUARD_S` as a failure guard only.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
_target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
TARGET = _target if _target.is_absolute() else REPO / _target
EXE = ".exe" if os.name == "nt" else ""
# Bound for things that happen promptly; only ever a failure guard, never a wait that passes.
GUARD_S = 30.0


def binary(name: str) -> str:
    path = TARGET / "debug" / f"{name}{EXE}"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo build -p exai-cli -p exai-shim -p exai-testkit --bins` first")
    return str(path)


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(4)}"


class Started:
    """A process started by a test: its stdout lines, its recent stderr, a bounded stop by pid."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: deque[str] = deque(maxlen=200)
        threading.Thread(target=self._stdout, daemon=True).start()
        threading.Thread(target=self._stderr, daemon=True).start()

    def _stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait_line(self, pattern: str) -> re.Match[str]:
        """The first stdout line matching `pattern`; fails when the process exits first."""
        while True:
            try:
                line = self.lines.get(timeout=GUARD_S)
            except queue.Empty:
                pytest.fail(f"{self.name} printed no line matching {pattern} within {GUARD_S} s:\n{self.output()}")
            if line is None:
                pytest.fail(f"{self.name} exited ({self.proc.poll()}) before printing {pattern}:\n{self.output()}")
            match = re.search(pattern, line)
            if match:
                return match

    def output(self) -> str:
        return "".join(self.stderr)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


class Events:
    """The hub's event stream (`/api/events`), read on a thread into a queue."""

    def __init__(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        self._connection = connection
        self._response = response
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for raw in self._response:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("data:"):
                    self._queue.put(json.loads(line[5:].strip()))
        except (OSError, ValueError, http.client.HTTPException):
            pass  # the stream ends when the test closes it or the hub stops
        finally:
            self._connection.close()
            self._queue.put(None)

    def wait_for(self, what: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first event from now on that matches; fails after `GUARD_S` or when the stream ends."""
        while True:
            try:
                event = self._queue.get(timeout=GUARD_S)
            except queue.Empty:
                pytest.fail(f"no hub event within {GUARD_S} s: {what}")
            if event is None:
                pytest.fail(f"the hub's event stream ended before: {what}")
            if predicate(event):
                return event

    def close(self) -> None:
        """Ends the stream; the reading thread closes the connection (not two threads at once)."""
        sock = self._connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@dataclass
class Hub:
    """The running hub: its endpoint name and its dashboard API."""

    endpoint: str
    host: str
    port: int
    token: str

    def _connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=GUARD_S)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str) -> Any:
        connection = self._connection()
        try:
            connection.request("GET", path, headers=self._headers())
            response = connection.getresponse()
            body = response.read().decode("utf-8")
            assert response.status == 200, f"GET {path}: {response.status} {body}"
            return json.loads(body)
        finally:
            connection.close()

    def events(self) -> Events:
        """Subscribes to the hub's events; every event after this call returns is seen."""
        connection = self._connection()
        connection.request("GET", "/api/events", headers={**self._headers(), "Accept": "text/event-stream"})
        response = connection.getresponse()
        assert response.status == 200, f"GET /api/events: {response.status}"
        # The hub subscribed before it sent the headers; from here on the stream has everything.
        connection.sock.settimeout(None)
        return Events(connection, response)

    def session(self, session_id: str) -> dict[str, Any] | None:
        return next((s for s in self.get("/api/snapshot")["sessions"] if s["id"] == session_id), None)

    def sessions_named(self, name: str) -> list[dict[str, Any]]:
        return [s for s in self.get("/api/snapshot")["sessions"] if s.get("name") == name]

    def shim_argv(self, label: str) -> list[str]:
        """How an editor's configuration starts the shim, plus this run's endpoint and a label."""
        return [binary("exai-shim"), "--endpoint", self.endpoint, "--name", label]

    def wait_cancelled(self, events: Events, label: str, tool: str) -> dict[str, Any]:
        """Waits for the hub's record of a cancelled `tool` call from the window named `label`."""

        def cancelled(event: dict[str, Any]) -> bool:
            if event.get("type") != "request_finished":
                return False
            request = event["request"]
            if request["method"] != "tools/call" or request.get("tool") != tool or not request["cancelled"]:
                return False
            session = self.session(request["session"])
            return session is not None and session.get("name") == label

        record = events.wait_for(f"a cancelled {tool} call from {label}", cancelled)["request"]
        assert record["ok"] is True and record["error"] is None, record
        return record

    def wait_idle(self, events: Events) -> None:
        """Waits until no pooled connection runs a call (a cancelled call's late result is in)."""
        if self.get("/api/snapshot")["upstream"]["busy"] == 0:
            return
        events.wait_for(
            "the daemon finishing every call",
            lambda event: event.get("type") == "upstream_changed" and event["upstream"]["busy"] == 0,
        )


@pytest.fixture(scope="session")
def hub():
    """A fake daemon and `exai hub --dashboard` on a fresh endpoint name; stopped by pid after."""
    config_home = tempfile.mkdtemp(prefix="exai-sdk-config-")
    # The hub and daemon ignore the user's own EXAI settings and config file; the endpoint's
    # place does not depend on the environment (the shims get the SDK's minimal one).
    env = {key: value for key, value in os.environ.items() if not key.startswith("EXAI_")}
    env.update(XDG_CONFIG_HOME=config_home, EXAI_LOG="info")
    daemon = Started("exai-fake-daemon", [binary("exai-fake-daemon")], env)
    started = [daemon]
    try:
        url = daemon.wait_line(r"ws://127\.0\.0\.1:\d+").group(0)
        endpoint = unique("sdk-py")
        argv = [binary("exai"), "hub", "--upstream", url, "--endpoint", endpoint, "--pool", "8", "--dashboard"]
        process = Started("exai hub", argv, env)
        started.append(process)
        dashboard = urllib.parse.urlsplit(process.wait_line(r"EXAI dashboard: (http://\S+)").group(1))
        token = urllib.parse.parse_qs(dashboard.query)["token"][0]
        assert dashboard.hostname and dashboard.port
        yield Hub(endpoint=endpoint, host=dashboard.hostname, port=dashboard.port, token=token)
    finally:
        for process in reversed(started):
            process.stop()
        shutil.rmtree(config_home, ignore_errors=True)
    for process in started:
        assert process.proc.poll() is not None, f"{process.name} (pid {process.proc.pid}) still runs"


@pytest.fixture
def events(hub: Hub):
    stream = hub.events()
    yield stream
    stream.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
