/*
 * exai-test-mcp-server.exe: the smallest stdio MCP server, for the Wine test of a wrapped
 * server (crates/exai-cli/tests/it/wine.rs). The test starts it through a .cmd batch file
 * found on PATH through PATHEXT, as `npx` is `npx.cmd` on Windows; the batch file sets
 * EXAI_WINE_VIA to its own name first, and every answer of the one tool, `whoami`, says it,
 * so the test knows the server really ran through the .cmd.
 *
 * One JSON-RPC message per line: `initialize` (the client's version echoed), `ping`,
 * `tools/list`, `tools/call whoami {"text"}` (answered "<text> via <EXAI_WINE_VIA> pid <pid>");
 * other requests get -32601, notifications and responses nothing. The JSON is read with a
 * small scanner that finds a member of an object by key and copies values as they were
 * written (strings keep their escapes, so they can be written back into JSON unchanged).
 */
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    return p;
}

/* p at an opening quote; returns the position after the closing one. */
static const char *skip_string(const char *p) {
    p++;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1]) p++;
        p++;
    }
    return *p ? p + 1 : p;
}

/* p at a value; returns the position after it. */
static const char *skip_value(const char *p) {
    if (*p == '"') return skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (*p) {
            if (*p == '"') {
                p = skip_string(p);
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            if (*p == '}' || *p == ']') {
                depth--;
                if (depth == 0) return p + 1;
            }
            p++;
        }
        return p;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\r' && *p != '\n') p++;
    return p;
}

/* The value of member `key` of the object at `obj` (its text in [*start, *end)); 0 if none. */
static int member(const char *obj, const char *key, const char **start, const char **end) {
    const char *p = skip_ws(obj);
    if (*p != '{') return 0;
    p = skip_ws(p + 1);
    while (*p == '"') {
        const char *key_start = p + 1;
        const char *key_end = skip_string(p) - 1;
        p = skip_ws(key_end + 1);
        if (*p != ':') return 0;
        p = skip_ws(p + 1);
        const char *value_end = skip_value(p);
        if ((size_t)(key_end - key_start) == strlen(key) && strncmp(key_start, key, strlen(key)) == 0) {
            *start = p;
            *end = value_end;
            return 1;
        }
        p = skip_ws(value_end);
        if (*p != ',') return 0;
        p = skip_ws(p + 1);
    }
    return 0;
}

static int is(const char *start, const char *end, const char *text) {
    return (size_t)(end - start) == strlen(text) && strncmp(start, text, strlen(text)) == 0;
}

static void reply(const char *id_start, const char *id_end, const char *body) {
    printf("{\"jsonrpc\":\"2.0\",\"id\":%.*s,%s}\n", (int)(id_end - id_start), id_start, body);
    fflush(stdout);
}

/* `text` as the inside of a JSON string (quotes and backslashes escaped). */
static void escaped(char *out, size_t size, const char *text) {
    size_t at = 0;
    for (; *text && at + 3 < size; text++) {
        if (*text == '"' || *text == '\\') out[at++] = '\\';
        out[at++] = *text;
    }
    out[at] = 0;
}

static void handle(const char *line) {
    const char *id_start, *id_end, *method_start, *method_end, *start, *end;
    if (!member(line, "id", &id_start, &id_end) || !member(line, "method", &method_start, &method_end))
        return; /* a notification or a response */
    char *body = NULL;
    size_t size = strlen(line) + 1024;
    body = malloc(size);
    if (!body) return;
    if (is(method_start, method_end, "\"initialize\"")) {
        const char *params_start, *params_end;
        const char *version = "\"2025-06-18\"";
        int version_len = (int)strlen(version);
        if (member(line, "params", &params_start, &params_end) &&
            member(params_start, "protocolVersion", &start, &end)) {
            version = start;
            version_len = (int)(end - start);
        }
        snprintf(body, size,
                 "\"result\":{\"protocolVersion\":%.*s,\"capabilities\":{\"tools\":{}},"
                 "\"serverInfo\":{\"name\":\"wine-cmd-server\",\"version\":\"1.0.0\"}}",
                 version_len, version);
    } else if (is(method_start, method_end, "\"ping\"")) {
        snprintf(body, size, "\"result\":{}");
    } else if (is(method_start, method_end, "\"tools/list\"")) {
        snprintf(body, size,
                 "\"result\":{\"tools\":[{\"name\":\"whoami\",\"description\":\"Says the text, "
                 "the batch file this server was started through, and its pid\",\"inputSchema\":"
                 "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}}]}");
    } else if (is(method_start, method_end, "\"tools/call\"")) {
        const char *params_start, *params_end, *args_start, *args_end;
        const char *text = "\"\"";
        int text_len = 2;
        if (member(line, "params", &params_start, &params_end) &&
            member(params_start, "arguments", &args_start, &args_end) &&
            member(args_start, "text", &start, &end) && *start == '"') {
            text = start;
            text_len = (int)(end - start);
        }
        char via[512] = "", via_json[1100];
        if (!GetEnvironmentVariableA("EXAI_WINE_VIA", via, sizeof via)) strcpy(via, "(not set)");
        escaped(via_json, sizeof via_json, via);
        /* The text without its closing quote, then the rest inside the same string. */
        snprintf(body, size,
                 "\"result\":{\"content\":[{\"type\":\"text\",\"text\":%.*s via %s pid %lu\"}]}",
                 text_len - 1, text, via_json, (unsigned long)GetCurrentProcessId());
    } else {
        snprintf(body, size, "\"error\":{\"code\":-32601,\"message\":\"method not found\"}");
    }
    reply(id_start, id_end, body);
    free(body);
}

int main(void) {
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
    size_t size = 1 << 16, len = 0;
    char *line = malloc(size);
    if (!line) return 1;
    int c;
    while ((c = getchar()) != EOF) {
        if (c == '\n') {
            line[len] = 0;
            if (len && line[len - 1] == '\r') line[len - 1] = 0;
            handle(line);
            len = 0;
            continue;
        }
        if (len + 2 >= size) {
            char *bigger = realloc(line, size * 2);
            if (!bigger) return 1;
            line = bigger;
            size *= 2;
        }
        line[len++] = (char)c;
    }
    free(line);
    return 0;
}
