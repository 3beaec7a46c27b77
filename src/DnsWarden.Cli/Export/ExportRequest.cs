using DnsWarden.Export;

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

        if (error is not null)
        {
            stderr.WriteLine($"{prefix}: {error}");
            return false;
        }

        return true;
    }
}
