using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;
using Microsoft.Win32.SafeHandles;

namespace DnsWarden.Platform.Users;

/// <summary>
/// Opens a file a user named for dnsw's output (a query log, events, a report). dnsw runs as root, but the path is
/// the user's — and may lie in a directory the jailed program can write to. So the file is opened:
/// <list type="bullet">
/// <item>with the credentials of the user it is for (filesystem uid and gid, and that user's groups, on one short-lived
/// thread: the kernel keeps these per thread, and setting fsuid away from 0 drops the thread's file capabilities),
/// so dnsw can create, truncate or append only where that user could — a link planted anywhere leads nowhere the
/// user could not already write;</item>
/// <item>never through a symbolic link in its last component (O_NOFOLLOW), and only if it is a regular file (not a
/// FIFO that would block dnsw, not a device).</item>
/// </list>
/// A failure is an <see cref="IOException"/> whose message names the path and the reason in one line.
/// </summary>
[SupportedOSPlatform("linux")]
public static class OutputFile
{
    // fcntl.h (x86-64 and arm64 agree): O_WRONLY, O_CREAT, O_TRUNC, O_APPEND, O_NONBLOCK, O_NOFOLLOW, O_CLOEXEC; F_GETFL/F_SETFL.
    private const int WriteOnly = 0x1;
    private const int Create = 0x40;
    private const int Truncate = 0x200;
    private const int Append = 0x400;
    private const int NonBlock = 0x800;
    private const int NoFollow = 0x20000;
    private const int CloseOnExec = 0x80000;
    private const int GetFlags = 3;
    private const int SetFlags = 4;

    private const int ELoop = 40;
    private const int ENxio = 6;
    private const int EAccess = 13;
    private const int EPerm = 1;

    /// <summary>asm-generic/unistd.h and x86-64's: setgroups(2), called raw so it changes the opening thread only.</summary>
    private static nint SetGroupsSyscall => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 116,
        Architecture.Arm64 => 159,
        _ => throw new PlatformNotSupportedException("setgroups syscall number unknown for " + RuntimeInformation.ProcessArchitecture),
    };

    /// <summary>
    /// Opens <paramref name="path"/> for writing, created (mode 0666 less the umask) when missing, as <paramref name="owner"/>
    /// (or as this process when null or when this process is not root).
    /// </summary>
    /// <param name="append">Append to what is there (a log); otherwise truncate (a report, a capture).</param>
    public static FileStream Open(string path, UserAccount? owner, bool append, int bufferSize = 4096)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        int flags = WriteOnly | Create | NoFollow | CloseOnExec | NonBlock | (append ? Append : Truncate);
        bool asUser = owner is not null && LibC.GetUid() == 0 && owner.Uid != 0;
        (int fd, int errno) = asUser ? OpenAs(full, flags, owner!) : OpenHere(full, flags);
        if (fd < 0)
        {
            throw new IOException($"{path}: {Explain(errno, asUser ? owner!.Name : null)}");
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            CheckRegularFile(handle, path);

            // Opened non-blocking so a FIFO could not stall dnsw; writes to the regular file block as usual.
            _ = LibC.Fcntl(fd, SetFlags, LibC.Fcntl(fd, GetFlags, 0) & ~NonBlock);
            // A descriptor opened here is synchronous to .NET; asynchronous writes on it run on the thread pool, as
            // FileOptions.Asynchronous does on Unix anyway.
            return new FileStream(handle, FileAccess.Write, bufferSize, isAsync: false);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static (int Fd, int Errno) OpenHere(string path, int flags)
    {
        int fd = LibC.OpenMode(path, flags, 0x1B6);
        return (fd, fd < 0 ? Marshal.GetLastPInvokeError() : 0);
    }

    /// <summary>On a thread of its own that takes the user's filesystem identity and groups, then ends (with them).</summary>
    private static (int Fd, int Errno) OpenAs(string path, int flags, UserAccount owner)
    {
        (int Fd, int Errno) result = (-1, EPerm);
        var thread = new Thread(() =>
        {
            unsafe
            {
                int[] groups = owner.Groups.Count > 0 ? [.. owner.Groups] : [owner.Gid];
                fixed (int* g = groups)
                {
                    if (LibC.Syscall(SetGroupsSyscall, groups.Length, (nint)g) != 0)
                    {
                        result = (-1, Marshal.GetLastPInvokeError());
                        return;
                    }
                }
            }

            // Group first: once the uid is not 0 the thread may no longer change its gid.
            _ = LibC.SetFsGid((uint)owner.Gid);
            _ = LibC.SetFsUid((uint)owner.Uid);
            if (LibC.SetFsUid(unchecked((uint)-1)) != owner.Uid)
            {
                result = (-1, EPerm);
                return;
            }

            result = OpenHere(path, flags);
        })
        {
            IsBackground = true,
            Name = "dnsw open as user",
        };
        thread.Start();
        thread.Join();
        return result;
    }

    private static unsafe void CheckRegularFile(SafeFileHandle handle, string path)
    {
        byte* stx = stackalloc byte[LibC.StatxBufferLength];
        if (LibC.Statx((int)handle.DangerousGetHandle(), "", LibC.AtEmptyPath, LibC.StatxType | LibC.StatxMode, stx) != 0)
        {
            throw new IOException($"{path}: cannot tell what it is: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        ushort mode = BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(stx + 28, 2));
        if (!BitConverter.IsLittleEndian)
        {
            mode = BinaryPrimitives.ReverseEndianness(mode);
        }

        // sys/stat.h: S_IFMT 0170000, S_IFREG 0100000.
        if ((mode & 0xF000) != 0x8000)
        {
            throw new IOException($"{path}: not a regular file (refused: output goes to a file only)");
        }
    }

    private static string Explain(int errno, string? user) => errno switch
    {
        ELoop => "is a symbolic link (refused: output is never written through a link)",
        ENxio => "is a FIFO with no reader (refused: output goes to a file only)",
        EAccess or EPerm when user is not null => $"permission denied for {user} (the file is written as the user who ran dnsw)",
        _ => Marshal.GetPInvokeErrorMessage(errno),
    };
}
