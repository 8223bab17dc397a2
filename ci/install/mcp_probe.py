#!/usr/bin/env python3
"""Talks MCP to an installed exai-shim, as an editor would, and checks the daemon's tools come
back through it: initialize, notifications/initialized, tools/list, then closes stdin.

    mcp_probe.py [--expect-tool NAME] [--timeout SECS] -- COMMAND [ARGS...]

COMMAND is the shim (`/usr/bin/exai-shim`, or `wine64 C:\\...\\exai-shim.exe`); its stderr
passes through. Prints `mcp-probe: ok: N tools (a, b, ...) from <server name>` and exits 0, or
says what went wrong and exits 1.
"""

import argparse
import json
import subprocess
import sys
import threading


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--expect-tool", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no shim command given")

    shim = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    answers: dict = {}
    done = threading.Event()

    def read() -> None:
        for raw in shim.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                print(f"mcp-probe: not JSON from the shim: {raw[:200]!r}", file=sys.stderr)
                continue
            if isinstance(message, dict) and "id" in message:
                answers[message["id"]] = message
                if 2 in answers:
                    done.set()
        done.set()

    threading.Thread(target=read, daemon=True).start()

    def send(message: dict) -> None:
        shim.stdin.write((json.dumps(message) + "\n").encode())
        shim.stdin.flush()

    def fail(why: str) -> int:
        print(f"mcp-probe: {why}", file=sys.stderr)
        shim.kill()
        shim.wait()
        return 1

    send({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "exai-install-probe", "version": "1"},
        },
    })
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
    if not done.wait(args.timeout) or 2 not in answers:
        return fail(f"no answer to tools/list within {args.timeout:.0f} s (answers: {answers})")
    init, listed = answers.get(1, {}), answers[2]
    if "result" not in init:
        return fail(f"initialize failed: {init}")
    if "result" not in listed:
        return fail(f"tools/list failed: {listed}")
    names = [tool.get("name") for tool in listed["result"].get("tools", [])]
    missing = [name for name in args.expect_tool if name not in names]
    if not names or missing:
        return fail(f"tools/list gave {names}, missing {missing or 'any tool'}")
    shim.stdin.close()
    try:
        code = shim.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return fail("the shim did not exit after its stdin closed")
    if code != 0:
        print(f"mcp-probe: the shim exited with {code} after stdin closed", file=sys.stderr)
        return 1
    server = init["result"].get("serverInfo", {}).get("name", "?")
    print(f"mcp-probe: ok: {len(names)} tools ({', '.join(names)}) from {server}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
