using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux;

internal static partial class LibC
{
    /// <summary>pwd.h: struct passwd on LP64 — pw_name, pw_passwd (pointers), pw_uid, pw_gid (u32), pw_gecos, pw_dir, pw_shell.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Passwd
    {
        public nint Name;
        public nint Password;
        public uint Uid;
        public uint Gid;
        public nint Gecos;
        public nint Directory;
        public nint Shell;
    }

    public const int ERange = 34;

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "getpwnam_r", StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int GetPwNamR(string name, Passwd* entry, byte* buffer, nuint bufferLength, Passwd** result);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "getpwuid_r")]
    public static unsafe partial int GetPwUidR(uint uid, Passwd* entry, byte* buffer, nuint bufferLength, Passwd** result);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "getgrouplist", StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int GetGroupList(string user, uint group, uint* groups, int* count);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "getuid")]
    public static partial uint GetUid();

    /// <summary>Per-thread in the kernel, and glibc does not pass it to the other threads (unlike setuid).</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "setfsuid")]
    public static partial int SetFsUid(uint uid);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "setfsgid")]
    public static partial int SetFsGid(uint gid);

    /// <summary>syscall(2): used for setgroups on one thread only (glibc's setgroups changes every thread).</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    public static unsafe partial nint Syscall(nint number, nint a1, nint a2);

    // fcntl.h / linux/stat.h: statx(2) on a descriptor; its buffer layout is the same on every architecture
    // (stx_nlink u32 at 16, stx_uid at 20, stx_gid at 24, stx_mode u16 at 28), unlike struct stat's.
    public const int AtEmptyPath = 0x1000;
    public const uint StatxType = 0x1;
    public const uint StatxMode = 0x2;
    public const uint StatxNlink = 0x4;
    public const uint StatxUid = 0x8;
    public const int StatxBufferLength = 256;

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);
}
