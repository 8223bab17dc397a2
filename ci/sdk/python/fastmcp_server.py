"""A small MCP server written with the Python SDK's high-level API (FastMCP; `MCPServer` in mcp
2.x), run over stdio by the hub as a wrapped server in test_wrapped.py.

`meet(who, expected)` reports progress ("<who> arrived"), then waits until `expected` calls are
in at once, reports again ("<who> met <n> other(s)") and answers "<who> met everyone": calls that
the hub did not run concurrently would never meet, and each progress message names its caller.
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("fastmcp-meeting")
arrived = 0
everyone: anyio.Event | None = None


@server.tool()
async def meet(who: str, expected: int, ctx: Context) -> str:
    """Waits until `expected` callers are in at once."""
    global arrived, everyone
    if everyone is None:
        everyone = anyio.Event()
    arrived += 1
    await ctx.report_progress(1, 2, f"{who} arrived")
    if arrived >= expected:
        everyone.set()
    await everyone.wait()
    await ctx.report_progress(2, 2, f"{who} met {arrived - 1} other(s)")
    return f"{who} met everyone"


if __name__ == "__main__":
    server.run()
