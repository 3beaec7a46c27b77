using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform.Users;

/// <summary>
/// Turns this whole process (every thread) from root into an unprivileged user for good: no supplementary groups,
/// real, effective and saved ids changed (glibc passes setgroups, setresgid and setresuid to every thread; the kernel
/// clears the permitted, effective and ambient capabilities itself when every uid leaves 0), no_new_privs on every
/// thread (an exec'd setuid program or file capability gains nothing, so the bounding set, per thread and out of reach
/// of the runtime's threads, is left as it is) and the process not dumpable (no other process of the user may ptrace
/// it or read its memory, /proc/PID/mem or its descriptors).
/// </summary>
[SupportedOSPlatform("linux")]
public static class PrivilegeDrop
{
    /// <summary>nobody:nogroup on Debian and its kin (the overflow ids; no file belongs to them).</summary>
    public const int Nobody = 65534;

    /// <summary>Drops to <paramref name="uid"/>:<paramref name="gid"/> (neither 0); throws <see cref="InvalidOperationException"/> naming the step that failed.</summary>
    public static unsafe void To(int uid, int gid)
    {
        if (uid <= 0 || gid <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(uid), "an unprivileged user and group");
        }

        Check(LibC.SetGroups(0, null), "setgroups");
        Check(LibC.SetResGid((uint)gid, (uint)gid, (uint)gid), "setresgid");
        Check(LibC.SetResUid((uint)uid, (uint)uid, (uint)uid), "setresuid");
        Check(LibC.Prctl(LibC.PrSetDumpable, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)");

        // no_new_privs is per thread; a filter that allows everything, installed with TSYNC, makes the kernel set it on
        // every other thread of the process too (seccomp_sync_threads) — the only way to reach threads this code
        // does not run on (the runtime's).
        Check(LibC.Prctl(LibC.PrSetNoNewPrivs, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
        LibC.SockFilter allow = new() { Code = LibC.BpfRetK, K = LibC.SeccompRetAllow };
        LibC.SockFprog program = new() { Length = 1, Filter = &allow };
        nint number = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? LibC.SysSeccompArm64 : LibC.SysSeccomp;
        if (LibC.Syscall3(number, LibC.SeccompSetModeFilter, LibC.SeccompFilterFlagTsync, (nint)(&program)) != 0)
        {
            throw new InvalidOperationException("cannot set no_new_privs on every thread (seccomp TSYNC): " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        }

        if (LibC.GetUid() != (uint)uid)
        {
            throw new InvalidOperationException("the user did not change");
        }
    }

    private static void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new InvalidOperationException($"cannot drop privileges: {call}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }
}
