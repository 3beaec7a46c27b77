using System.Runtime.InteropServices;

namespace DnsWarden.E2E;

/// <summary>
/// Signals without spawning kill(1) (procps may be absent on a minimal machine). DllImport, not LibraryImport:
/// the generated stub needs AllowUnsafeBlocks, which this test project does not set, and kill(2) takes only ints.
/// </summary>
internal static class LibC
{
    /// <summary>kill(2): a negative pid signals that process group. Returns 0, or -1 (e.g. ESRCH: nothing left).</summary>
    [DllImport("libc", EntryPoint = "kill")]
    public static extern int Kill(int pid, int signal);
}
