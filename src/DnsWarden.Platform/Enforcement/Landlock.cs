using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// Landlock (Documentation/userspace-api/landlock.rst): restrictions a process puts on itself and everything it starts
/// afterwards, for good. Here: write access only beneath the given directories (reads and execution stay open), and
/// from ABI 6 on no signals to, and no abstract UNIX sockets of, processes outside the sandbox. Applies to the calling
/// thread — call it on the thread that will start the restricted program.
/// </summary>
[SupportedOSPlatform("linux")]
public static class Landlock
{
    // uapi/linux/landlock.h.
    private const ulong WriteFile = 1UL << 1;
    private const ulong RemoveDir = 1UL << 4;
    private const ulong RemoveFile = 1UL << 5;
    private const ulong MakeChar = 1UL << 6;
    private const ulong MakeDir = 1UL << 7;
    private const ulong MakeReg = 1UL << 8;
    private const ulong MakeSock = 1UL << 9;
    private const ulong MakeFifo = 1UL << 10;
    private const ulong MakeBlock = 1UL << 11;
    private const ulong MakeSym = 1UL << 12;
    private const ulong Refer = 1UL << 13;     // ABI 2
    private const ulong Truncate = 1UL << 14;  // ABI 3
    private const ulong ScopeAbstractUnixSocket = 1UL << 0; // ABI 6
    private const ulong ScopeSignal = 1UL << 1;              // ABI 6
    private const int RulePathBeneath = 1;
    private const uint CreateRulesetVersion = 1;
    private const int PrSetNoNewPrivs = 38;

    // O_PATH | O_CLOEXEC | O_DIRECTORY.
    private const int OpenPathDirectory = 0x200000 | 0x80000 | 0x10000;

    /// <summary>The Landlock ABI version this kernel offers; 0 when it has none (not built in, or not enabled at boot).</summary>
    public static int AbiVersion()
    {
        nint v = LibC.Syscall3(LibC.SysLandlockCreateRuleset, 0, 0, (nint)CreateRulesetVersion);
        return v < 0 ? 0 : (int)v;
    }

    /// <summary>
    /// Restricts the calling thread (and what it starts): writes only beneath <paramref name="writable"/> (each must be
    /// a directory that exists), no signals to or abstract sockets of processes outside. Returns what was applied,
    /// for the user ("write: …; scoped: signals, abstract sockets"); throws <see cref="IOException"/> when the kernel
    /// refuses, <see cref="PlatformNotSupportedException"/> when it has no Landlock.
    /// </summary>
    public static unsafe string RestrictSelf(IReadOnlyList<string> writable)
    {
        int abi = AbiVersion();
        if (abi < 1)
        {
            throw new PlatformNotSupportedException("this kernel has no Landlock (CONFIG_SECURITY_LANDLOCK, or \"landlock\" missing from lsm= at boot)");
        }

        ulong handled = WriteFile | RemoveDir | RemoveFile | MakeChar | MakeDir | MakeReg | MakeSock | MakeFifo | MakeBlock | MakeSym
            | (abi >= 2 ? Refer : 0) | (abi >= 3 ? Truncate : 0);
        ulong scoped = abi >= 6 ? ScopeAbstractUnixSocket | ScopeSignal : 0;

        // struct landlock_ruleset_attr { u64 handled_access_fs; u64 handled_access_net (ABI 4); u64 scoped (ABI 6); }:
        // the size passed tells the kernel which fields this caller knows.
        ulong* attr = stackalloc ulong[3];
        attr[0] = handled;
        attr[1] = 0;
        attr[2] = scoped;
        nint size = abi >= 6 ? 24 : 8;
        int ruleset = (int)LibC.Syscall3(LibC.SysLandlockCreateRuleset, (nint)attr, size, 0);
        if (ruleset < 0)
        {
            throw new IOException("landlock_create_ruleset: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        }

        // struct landlock_path_beneath_attr { u64 allowed_access; s32 parent_fd; } __packed (12 bytes).
        byte* rule = stackalloc byte[12];
        try
        {
            foreach (string dir in writable)
            {
                int fd = LibC.Open(dir, OpenPathDirectory);
                if (fd < 0)
                {
                    throw new IOException($"{dir}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                }

                try
                {
                    *(ulong*)rule = handled;
                    *(int*)(rule + 8) = fd;
                    if (LibC.Syscall4(LibC.SysLandlockAddRule, ruleset, RulePathBeneath, (nint)rule, 0) != 0)
                    {
                        throw new IOException($"landlock_add_rule {dir}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
                    }
                }
                finally
                {
                    _ = LibC.Close(fd);
                }
            }

            // Without CAP_SYS_ADMIN the kernel requires no_new_privs first; it is what the command gets anyway.
            _ = LibC.Prctl(PrSetNoNewPrivs, 1, 0, 0, 0);
            if (LibC.Syscall3(LibC.SysLandlockRestrictSelf, ruleset, 0, 0) != 0)
            {
                throw new IOException("landlock_restrict_self: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
            }
        }
        finally
        {
            _ = LibC.Close(ruleset);
        }

        string scopes = scoped != 0 ? "; no signals to or abstract sockets of processes outside" : "";
        return $"Landlock ABI {abi}: writes only beneath {string.Join(", ", writable)}{scopes}";
    }
}
