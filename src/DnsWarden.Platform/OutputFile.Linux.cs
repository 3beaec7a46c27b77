using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform;

public static partial class OutputFile
{
    /// <summary>The entry's type from statx(2) without following it (.NET tells a device or a pipe from a file by no public API).</summary>
    [SupportedOSPlatform("linux")]
    private static unsafe Entry ProbeLinux(string path)
    {
        byte* buffer = stackalloc byte[LibC.StatxSize];
        if (LibC.Statx(LibC.AtFdCwd, path, LibC.AtSymlinkNoFollow, LibC.StatxType, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == LibC.ENoEnt ? Entry.None : throw new IOException($"{path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        int type = *(ushort*)(buffer + LibC.StatxModeOffset) & LibC.SIfMt; // native byte order

        return type switch
        {
            LibC.SIfReg => Entry.RegularFile,
            LibC.SIfLnk => Entry.SymbolicLink,
            LibC.SIfDir => Entry.Directory,
            _ => Entry.Other,
        };
    }
}
