/*
 * A stand-in for Windows' bcryptprimitives.dll, for running Rust programs under Wine 8.0.
 *
 * Rust's std (1.78 and later) gets its random bytes (HashMap seeds) from ProcessPrng in
 * bcryptprimitives.dll. Wine 8.0 has no such DLL, so every Rust .exe fails to load there.
 * This DLL exports ProcessPrng and fills the buffer with RtlGenRandom (SystemFunction036,
 * advapi32), which Wine implements. It is copied into the test Wine prefix only
 * (ci/wine/setup.sh); nothing ships it.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll \
 *            bcryptprimitives.c bcryptprimitives.def -ladvapi32
 */
#include <windows.h>

/* RtlGenRandom; mingw's libadvapi32.a exports it under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/*
 * Like the real ProcessPrng this always returns TRUE: Rust's std does not check the result.
 * If RtlGenRandom ever fails we end the process rather than hand back predictable bytes.
 */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000u ? 0x40000000u : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            TerminateProcess(GetCurrentProcess(), 0xC0000001u /* STATUS_UNSUCCESSFUL */);
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}
