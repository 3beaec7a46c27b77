using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// Runs code inside a named network namespace (<c>/run/netns/NAME</c>, as <c>ip netns</c> makes them). setns(2)
/// moves only the calling thread, so the work runs on a thread of its own that enters the namespace first and ends
/// with the work: sockets it opens and nftables changes it makes belong to that namespace, and no pool thread is
/// ever left in it.
/// </summary>
[SupportedOSPlatform("linux")]
public static class NetworkNamespace
{
    public const string RunDirectory = "/run/netns";

    /// <summary>The path of a named namespace; the name is checked to be a plain file name.</summary>
    public static string PathOf(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException($"'{name}' is not a network namespace name", nameof(name));
        }

        return Path.Combine(RunDirectory, name);
    }

    /// <summary>Runs <paramref name="work"/> inside namespace <paramref name="name"/> on a dedicated thread.</summary>
    /// <exception cref="IOException">The namespace does not exist or cannot be entered (needs CAP_SYS_ADMIN).</exception>
    public static Task<T> RunAsync<T>(string name, Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        string path = PathOf(name);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Enter(path);
                done.TrySetResult(work());
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "dnsw netns " + name,
        };
        thread.Start();
        return done.Task;
    }

    internal static void Enter(string path)
    {
        int fd = LibC.Open(path, LibC.OpenReadOnlyCloseOnExec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open network namespace {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        try
        {
            if (LibC.SetNs(fd, LibC.CloneNewNet) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"cannot enter network namespace {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
        finally
        {
            LibC.Close(fd);
        }
    }
}
