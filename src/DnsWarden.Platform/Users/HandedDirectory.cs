using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;
using Microsoft.Win32.SafeHandles;

namespace DnsWarden.Platform.Users;

/// <summary>
/// A directory given to the user this process is about to become, and reached from then on through a descriptor
/// opened while root could still walk its path. The directory sits beneath one only root may enter (the export spool,
/// 0700), so no other process of that user — the jailed command included — can reach it; this process reaches it
/// through <see cref="AccessPath"/>, <c>/proc/self/fd/N</c>, which the kernel resolves from the descriptor without
/// walking the parents again (a process may always use its own descriptors, dumpable or not).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class HandedDirectory : IDisposable
{
    // O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC: a handle to walk from, nothing read or written through it.
    private const int OpenPathDirectoryNoFollow = 0x200000 | 0x10000 | 0x20000 | 0x80000;

    private readonly SafeFileHandle _handle;

    private HandedDirectory(SafeFileHandle handle, int fd)
    {
        _handle = handle;
        AccessPath = "/proc/self/fd/" + fd.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The path this process reaches the directory by.</summary>
    public string AccessPath { get; }

    /// <summary>
    /// Gives <paramref name="directory"/> and the files directly in it (not following symbolic links) to
    /// <paramref name="uid"/>:<paramref name="gid"/> and opens it. Throws <see cref="IOException"/> naming the step.
    /// </summary>
    public static HandedDirectory Give(string directory, int uid, int gid)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory).Prepend(directory))
        {
            if (LibC.LChown(entry, (uint)uid, (uint)gid) != 0)
            {
                throw new IOException($"cannot give {entry} to {uid}:{gid}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
        }

        int fd = LibC.Open(directory, OpenPathDirectoryNoFollow);
        if (fd < 0)
        {
            throw new IOException($"cannot open {directory}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        return new HandedDirectory(new SafeFileHandle(fd, ownsHandle: true), fd);
    }

    public void Dispose() => _handle.Dispose();
}
