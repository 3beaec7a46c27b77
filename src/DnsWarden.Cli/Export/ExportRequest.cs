using System.Runtime.Versioning;
using DnsWarden.Export;
using DnsWarden.Platform.Users;

namespace DnsWarden.Cli.Export;

/// <summary>What <c>--export</c> asked for, carried from parsing to the run: settings, or why they are wrong, or nothing.</summary>
internal sealed record ExportRequest(ExportSettings? Settings, string? Error = null)
{
    /// <summary>Starts the exporter when one was asked for. False (the reason written) when the options or the spool are wrong.</summary>
    public bool TryStart(TextWriter stderr, string prefix, out ClickHouseExporter? exporter)
    {
        exporter = null;
        string? error = Error;
        if (error is null && Settings is not null)
        {
            exporter = ExportOptions.Start(Settings, stderr, out error);
        }

        return Report(error, stderr, prefix);
    }

    /// <summary>
    /// As <see cref="TryStart"/>, for a run that becomes <paramref name="uid"/>:<paramref name="gid"/> after it starts:
    /// the exporter spools in a directory of the run's own beneath the shared spool (<see cref="Spool.TryOpenForRun"/>),
    /// given to that user and reached through a descriptor. <paramref name="held"/> keeps the directory's lock and
    /// descriptor: dispose it after the exporter stopped, and the next run takes back whatever is left unsent.
    /// </summary>
    [SupportedOSPlatform("linux")]
    public bool TryStartFor(int uid, int gid, TextWriter stderr, string prefix, out ClickHouseExporter? exporter, out IDisposable? held)
    {
        exporter = null;
        held = null;
        string? error = Error;
        if (error is null && Settings is not null
            && Spool.TryOpenForRun(Settings.SpoolDirectory, Settings.SpoolMaxBytes, out Spool? spool, out FileStream? runLock, out error))
        {
            try
            {
                var handed = HandedDirectory.Give(spool!.Directory, uid, gid);
                spool.ReachThrough(handed.AccessPath);
                held = new Both(handed, runLock!);
                exporter = ExportOptions.Start(Settings, spool, stderr);
            }
            catch (IOException e)
            {
                runLock!.Dispose();
                error = "spool " + e.Message;
            }
        }

        return Report(error, stderr, prefix);
    }

    private static bool Report(string? error, TextWriter stderr, string prefix)
    {
        if (error is not null)
        {
            stderr.WriteLine($"{prefix}: {error}");
            return false;
        }

        return true;
    }

    private sealed class Both(IDisposable first, IDisposable second) : IDisposable
    {
        public void Dispose()
        {
            first.Dispose();
            second.Dispose();
        }
    }
}
