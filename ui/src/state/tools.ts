// The daemon's tool list as the daemon card filters it.

import type { ToolInfo } from "../api";

/** Tools whose name or description has every word of `query` (any case), in their order. */
export function filterTools(tools: readonly ToolInfo[], query: string): ToolInfo[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...tools];
  return tools.filter((tool) => {
    const text = `${tool.name}\n${tool.description}`.toLowerCase();
    return words.every((word) => text.includes(word));
  });
}

/** What the card says above the list: `7 tools`, `2 of 7 tools`, or why there are none. */
export function toolsSummary(total: number, shown: number, connected: boolean): string {
  if (total === 0) return connected ? "The daemon offers no tools." : "The tool list arrives once the daemon is connected.";
  const noun = total === 1 ? "tool" : "tools";
  return shown === total ? `${total} ${noun}` : `${shown} of ${total} ${noun}`;
}
