using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    // spawn.h: POSIX_SPAWN_SETSIGDEF, POSIX_SPAWN_SETSIGMASK; glibc's posix_spawnattr_t (336 bytes) and sigset_t (128) fit these.
    public const short PosixSpawnSetSigDefault = 0x04;
    public const short PosixSpawnSetSigMask = 0x08;
    public const int SpawnAttrBufferLength = 512;
    public const int SigSetBufferLength = 128;

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "posix_spawnp", StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int PosixSpawnP(int* pid, string file, void* fileActions, void* attributes, nint* argv, nint* envp);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "posix_spawnattr_init")]
    public static unsafe partial int PosixSpawnAttrInit(void* attributes);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "posix_spawnattr_destroy")]
    public static unsafe partial int PosixSpawnAttrDestroy(void* attributes);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "posix_spawnattr_setflags")]
    public static unsafe partial int PosixSpawnAttrSetFlags(void* attributes, short flags);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "posix_spawnattr_setsigdefault")]
    public static unsafe partial int PosixSpawnAttrSetSigDefault(void* attributes, void* set);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "posix_spawnattr_setsigmask")]
    public static unsafe partial int PosixSpawnAttrSetSigMask(void* attributes, void* set);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "sigemptyset")]
    public static unsafe partial int SigEmptySet(void* set);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "sigfillset")]
    public static unsafe partial int SigFillSet(void* set);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "waitpid", SetLastError = true)]
    public static unsafe partial int WaitPid(int pid, int* status, int options);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "pipe2", SetLastError = true)]
    public static unsafe partial int Pipe2(int* fds, int flags);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int LChown(string path, uint owner, uint group);
}
