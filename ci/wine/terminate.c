/*
 * exai-test-terminate.exe PID: ends one Windows process by its pid and waits until it is gone,
 * for the Wine tests. The hub that a shim autostarts is a grandchild of the test, known only by
 * its Windows pid (from the shim's log line), which no Linux tool can address.
 *
 * Exit codes: 0 ended (or already gone), 2 usage, 3 cannot open it, 4 TerminateProcess failed.
 *
 * Build: x86_64-w64-mingw32-gcc -municode -O2 -s -o exai-test-terminate.exe terminate.c
 */
#include <windows.h>
#include <wchar.h>

int wmain(int argc, wchar_t **argv)
{
    if (argc != 2) return 2;
    wchar_t *end = NULL;
    unsigned long pid = wcstoul(argv[1], &end, 10);
    if (end == argv[1] || *end != L'\0' || pid == 0) return 2;
    HANDLE process = OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE, FALSE, (DWORD)pid);
    if (process == NULL) return GetLastError() == ERROR_INVALID_PARAMETER ? 0 : 3;
    int code = 0;
    if (!TerminateProcess(process, 1) && WaitForSingleObject(process, 0) != WAIT_OBJECT_0) code = 4;
    if (code == 0) WaitForSingleObject(process, INFINITE);
    CloseHandle(process);
    return code;
}
