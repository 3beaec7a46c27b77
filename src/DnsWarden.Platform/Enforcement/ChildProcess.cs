using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// Processes started and reaped without System.Diagnostics.Process: for a process that is init of a PID namespace
/// and must reap every orphan with waitpid(-1) — the runtime's Process class reaps only its own children and would
/// race such a loop for their status. posix_spawn starts the program from the calling thread (so it inherits that
/// thread's Landlock domain and namespaces) with every signal at its default and none blocked (the runtime ignores
/// SIGPIPE, which a child must not inherit).
/// </summary>
[SupportedOSPlatform("linux")]
public static class ChildProcess
{
    private const int EChild = 10;
    private const int EIntr = 4;

    /// <summary>Starts <paramref name="argv"/>[0] (searched on PATH) with <paramref name="argv"/> and <paramref name="environment"/> ("K=V"); returns its pid.</summary>
    public static unsafe int Spawn(IReadOnlyList<string> argv, IReadOnlyList<string> environment)
    {
        ArgumentOutOfRangeException.ThrowIfZero(argv.Count);
        nint[] args = new nint[argv.Count + 1];
        nint[] env = new nint[environment.Count + 1];
        byte* attr = stackalloc byte[LibC.SpawnAttrBufferLength];
        byte* all = stackalloc byte[LibC.SigSetBufferLength];
        byte* none = stackalloc byte[LibC.SigSetBufferLength];
        try
        {
            for (int i = 0; i < argv.Count; i++)
            {
                args[i] = Marshal.StringToCoTaskMemUTF8(argv[i]);
            }

            for (int i = 0; i < environment.Count; i++)
            {
                env[i] = Marshal.StringToCoTaskMemUTF8(environment[i]);
            }

            _ = LibC.PosixSpawnAttrInit(attr);
            _ = LibC.SigFillSet(all);
            _ = LibC.SigEmptySet(none);
            _ = LibC.PosixSpawnAttrSetSigDefault(attr, all);
            _ = LibC.PosixSpawnAttrSetSigMask(attr, none);
            _ = LibC.PosixSpawnAttrSetFlags(attr, LibC.PosixSpawnSetSigDefault | LibC.PosixSpawnSetSigMask);
            int pid;
            int rc;
            fixed (nint* a = args)
            fixed (nint* e = env)
            {
                rc = LibC.PosixSpawnP(&pid, argv[0], null, attr, a, e);
            }

            _ = LibC.PosixSpawnAttrDestroy(attr);
            if (rc != 0)
            {
                throw new IOException($"cannot start {argv[0]}: {Marshal.GetPInvokeErrorMessage(rc)}");
            }

            return pid;
        }
        finally
        {
            foreach (nint p in args.Concat(env))
            {
                Marshal.FreeCoTaskMem(p);
            }
        }
    }

    /// <summary>Waits for any child (waitpid(-1)); null when there is none left.</summary>
    public static unsafe (int Pid, int Status)? WaitAny()
    {
        while (true)
        {
            int status;
            int pid = LibC.WaitPid(-1, &status, 0);
            if (pid > 0)
            {
                return (pid, status);
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == EChild)
            {
                return null;
            }

            if (errno != EIntr)
            {
                throw new IOException("waitpid: " + Marshal.GetPInvokeErrorMessage(errno));
            }
        }
    }

    /// <summary>A wait status as a shell reports it: the exit code, or 128 + the signal that ended the process.</summary>
    public static int ExitCode(int status) => (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F);

    /// <summary>kill(2); false when the process is gone.</summary>
    public static bool Signal(int pid, int signal) => LibC.Kill(pid, signal) == 0;
}
