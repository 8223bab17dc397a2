/*
 * exai-test-parent.exe PROGRAM [ARGS...]: a stand-in editor for the Wine tests.
 *
 * It starts PROGRAM as its child, handing down its own stdin/stdout/stderr, and waits for it.
 * The test kills this process (by the pid it started) and expects the child, exai-shim.exe,
 * to notice that its parent died and exit by itself, although its stdin stays open.
 * (`wine64 cmd.exe /c ...` cannot serve: Wine runs it behind start.exe, so the pid the test
 * gets is not the shim's parent.)
 *
 * Build: x86_64-w64-mingw32-gcc -municode -O2 -s -o exai-test-parent.exe parent.c
 */
#include <windows.h>
#include <wchar.h>

/* Appends `arg` to `out` quoted the way CommandLineToArgvW splits it back. */
static void append_arg(wchar_t *out, const wchar_t *arg)
{
    size_t n = wcslen(out);
    int quote = arg[0] == L'\0' || wcspbrk(arg, L" \t\"") != NULL;
    if (n > 0) out[n++] = L' ';
    if (quote) out[n++] = L'"';
    for (const wchar_t *p = arg;; p++) {
        size_t slashes = 0;
        while (*p == L'\\') { slashes++; p++; }
        if (*p == L'\0') {
            /* Double trailing backslashes when a closing quote follows. */
            for (size_t i = 0; i < (quote ? slashes * 2 : slashes); i++) out[n++] = L'\\';
            break;
        }
        if (*p == L'"' && quote) {
            for (size_t i = 0; i < slashes * 2 + 1; i++) out[n++] = L'\\';
        } else {
            for (size_t i = 0; i < slashes; i++) out[n++] = L'\\';
        }
        out[n++] = *p;
    }
    if (quote) out[n++] = L'"';
    out[n] = L'\0';
}

int wmain(int argc, wchar_t **argv)
{
    if (argc < 2) return 2;
    size_t size = 1;
    for (int i = 1; i < argc; i++) size += wcslen(argv[i]) * 2 + 3;
    wchar_t *line = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, size * sizeof(wchar_t));
    if (line == NULL) return 3;
    for (int i = 1; i < argc; i++) append_arg(line, argv[i]);

    STARTUPINFOW startup = {0};
    startup.cb = sizeof startup;
    startup.dwFlags = STARTF_USESTDHANDLES;
    startup.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    startup.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    startup.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    PROCESS_INFORMATION child;
    if (!CreateProcessW(NULL, line, NULL, NULL, TRUE, 0, NULL, NULL, &startup, &child)) return 4;
    CloseHandle(child.hThread);
    WaitForSingleObject(child.hProcess, INFINITE);
    DWORD code = 1;
    GetExitCodeProcess(child.hProcess, &code);
    return (int)code;
}
