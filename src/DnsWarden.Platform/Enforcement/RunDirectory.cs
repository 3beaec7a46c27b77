using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;
using Microsoft.Win32.SafeHandles;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// /run/dnsw: the records a later run reads to undo what a dead one left (owner files, the forwarding lease). It
/// exists only while something is recorded in it: <see cref="RemoveIfEmpty"/> takes it away with the last record, so
/// the host's /run is as it was. <see cref="Lock"/> serialises changes to shared records between dnsw processes.
/// </summary>
[SupportedOSPlatform("linux")]
public static class RunDirectory
{
    public const string Path = "/run/dnsw";

    /// <summary>
    /// Creates the directory when needed and takes an exclusive flock(2) on it; dispose to release. A waiter that
    /// gets the lock on a directory another process removed meanwhile starts over on the new one.
    /// </summary>
    public static IDisposable Lock()
    {
        while (true)
        {
            Directory.CreateDirectory(Path);
            int fd = LibC.Open(Path, LibC.OpenDirectory | LibC.OpenReadOnlyCloseOnExec);
            if (fd < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == 2)
                {
                    continue; // removed between mkdir and open
                }

                throw new IOException($"cannot open {Path}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }

            var handle = new SafeFileHandle(fd, ownsHandle: true);
            while (LibC.Flock(fd, LibC.LockExclusive) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != 4)
                {
                    handle.Dispose();
                    throw new IOException($"cannot lock {Path}: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
            }

            // The holder before us may have removed the (then empty) directory: our lock is on a deleted inode.
            string? target = new FileInfo("/proc/self/fd/" + fd.ToString(CultureInfo.InvariantCulture)).LinkTarget;
            if (target == Path)
            {
                return new Held(handle);
            }

            handle.Dispose();
        }
    }

    /// <summary>Removes the directory when nothing is recorded in it any more (call with the lock held).</summary>
    public static void RemoveIfEmpty()
    {
        try
        {
            if (Directory.Exists(Path) && !Directory.EnumerateFileSystemEntries(Path).Any())
            {
                Directory.Delete(Path);
            }
        }
        catch (IOException)
        {
            // Something was recorded meanwhile: it stays.
        }
    }

    private sealed class Held(SafeFileHandle handle) : IDisposable
    {
        public void Dispose() => handle.Dispose(); // closing the last descriptor releases the flock
    }
}
