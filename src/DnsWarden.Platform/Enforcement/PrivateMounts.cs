using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform.Enforcement;

/// <summary>Mounts made inside a mount namespace of one's own (the jail's init): nothing here reaches the host's mounts.</summary>
[SupportedOSPlatform("linux")]
public static class PrivateMounts
{
    // sys/mount.h.
    private const ulong NoSuid = 2;
    private const ulong NoDev = 4;

    /// <summary>An empty tmpfs over <paramref name="target"/> (nosuid, nodev) with <paramref name="options"/> such as "mode=1777".</summary>
    public static void Tmpfs(string target, string options)
    {
        nint data = Marshal.StringToCoTaskMemUTF8(options);
        try
        {
            if (LibC.Mount("tmpfs", target, "tmpfs", NoSuid | NoDev, data) != 0)
            {
                throw new IOException($"cannot mount a private tmpfs on {target}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
        }
        finally
        {
            Marshal.FreeCoTaskMem(data);
        }
    }

    /// <summary>lchown(2).</summary>
    public static void ChangeOwner(string path, int uid, int gid)
    {
        if (LibC.LChown(path, (uint)uid, (uint)gid) != 0)
        {
            throw new IOException($"cannot give {path} to {uid}:{gid}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }
}
