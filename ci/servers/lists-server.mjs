#!/usr/bin/env node
// A small stdio MCP server for the hub's restart tests (crates/exai-cli/tests/it/servers.rs),
// with nothing installed: node's own modules only.
//
//   node lists-server.mjs LISTS.json [GATE]
//
// Its tools, prompts and resources are what LISTS.json holds when it starts
// ({"tools": [...], "prompts": [...], "resources": [...]}), so a test changes them between two
// runs by rewriting the file. When the path GATE exists at start (a FIFO the test made), the
// server reads it to its end before it reads stdin: it is "starting" until the test writes and
// closes the FIFO. Lines are answered one at a time, in order; tools/call `echo` answers its
// message; `logging/setLevel` sets its one log level (as a real server's, for all its clients),
// and tools/call `log` sends one notifications/message at each level that level admits, then
// answers with the level it was set to; anything else unknown is -32601.
import { readFileSync, existsSync } from "node:fs";
import { createInterface } from "node:readline";

const [listsPath, gate] = process.argv.slice(2);
if (gate && existsSync(gate)) {
    readFileSync(gate);
}
const lists = JSON.parse(readFileSync(listsPath, "utf8"));

const levels = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];
let level = "info";

const send = (message) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\n");

const answer = (request) => {
    const params = request.params ?? {};
    switch (request.method) {
        case "initialize":
            return {
                protocolVersion: "2025-06-18",
                capabilities: {
                    tools: { listChanged: true },
                    prompts: { listChanged: true },
                    resources: { listChanged: true },
                    logging: {},
                },
                serverInfo: { name: "lists-server", version: "1" },
            };
        case "ping":
            return {};
        case "logging/setLevel":
            level = params.level;
            return {};
        case "tools/list":
            return { tools: lists.tools ?? [] };
        case "prompts/list":
            return { prompts: lists.prompts ?? [] };
        case "resources/list":
            return { resources: lists.resources ?? [] };
        case "tools/call":
            if (params.name === "log") {
                for (const each of levels.slice(levels.indexOf(level))) {
                    send({ method: "notifications/message", params: { level: each, logger: "lists-server", data: `a ${each} message` } });
                }
                return { content: [{ type: "text", text: `level: ${level}` }] };
            }
            if (params.name === "echo") {
                return { content: [{ type: "text", text: `Echo: ${params.arguments?.message}` }] };
            }
            return { content: [{ type: "text", text: `no tool ${params.name}` }], isError: true };
        default:
            return undefined;
    }
};

createInterface({ input: process.stdin }).on("line", (line) => {
    const message = JSON.parse(line);
    if (message.id === undefined || message.method === undefined) {
        return; // a notification or a response
    }
    const result = answer(message);
    if (result === undefined) {
        send({ id: message.id, error: { code: -32601, message: `no method ${message.method}` } });
    } else {
        send({ id: message.id, result });
    }
});
