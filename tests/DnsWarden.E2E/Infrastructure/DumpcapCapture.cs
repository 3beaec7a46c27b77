using System.Globalization;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E;

/// <summary>A running <c>dumpcap</c> inside a namespace, writing pcapng (one IDB per interface, with names).</summary>
public sealed partial class DumpcapCapture : IAsyncDisposable
{
    private readonly NetnsProcess _process;
    private long? _packetsCaptured;

    private DumpcapCapture(NetnsProcess process, string outputPath, IReadOnlyList<string> interfaces)
    {
        _process = process;
        OutputPath = outputPath;
        Interfaces = interfaces;
    }

    /// <summary>Longer than dumpcap's 250 ms read timeout, so the kernel has handed over every packet.</summary>
    public static readonly TimeSpan DefaultSettle = TimeSpan.FromMilliseconds(600);

    public string Namespace => _process.Namespace;

    public string OutputPath { get; }

    public IReadOnlyList<string> Interfaces { get; }

    public bool IsStopped => _process.HasExited;

    /// <summary>The "Packets captured: N" dumpcap prints at the end; null until stopped.</summary>
    public long? PacketsCaptured => _packetsCaptured;

    internal static async Task<DumpcapCapture> StartAsync(
        string netns,
        IReadOnlyList<string> interfaces,
        string outputPath,
        string? captureFilter,
        TimeSpan readyTimeout)
    {
        var args = new List<string>();
        foreach (string iface in interfaces)
        {
            args.Add("-i");
            args.Add(iface);
            if (captureFilter is not null)
            {
                args.Add("-f");
                args.Add(captureFilter);
            }
        }

        args.AddRange(["-w", outputPath, "-q"]);
        NetnsProcess process = NetnsProcess.Start(netns, "dumpcap", "dumpcap", args);
        var capture = new DumpcapCapture(process, outputPath, interfaces);
        try
        {
            // dumpcap prints this once every interface's handle is open and activated, so packets
            // sent from here on are seen.
            await process.WaitForOutputAsync("Capturing on", readyTimeout);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }

        return capture;
    }

    /// <summary>
    /// Waits <paramref name="settle"/> (default <see cref="DefaultSettle"/>), stops dumpcap with SIGINT (it then
    /// writes what it has and closes the file) and returns the packet count it reports.
    /// </summary>
    public async Task<long> StopAsync(TimeSpan? settle = null)
    {
        // libpcap hands packets to dumpcap a ring block at a time (TPACKET_V3, retired on dumpcap's 250 ms read
        // timeout); on SIGINT dumpcap stops reading, so packets of the last partly filled block would be lost.
        await Task.Delay(settle ?? DefaultSettle);
        await _process.StopAsync(ProcessSignal.Interrupt, TimeSpan.FromSeconds(10));
        Match m = PacketsCapturedRegex().Match(_process.StdErr);
        _packetsCaptured = m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
        if (!File.Exists(OutputPath))
        {
            throw new InvalidOperationException($"dumpcap left no file at {OutputPath}.\n{_process.Describe()}");
        }

        return _packetsCaptured.Value;
    }

    public string Describe() => _process.Describe();

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await _process.StopAsync(ProcessSignal.Interrupt, TimeSpan.FromSeconds(10));
        }

        await _process.DisposeAsync();
    }

    [GeneratedRegex(@"Packets captured: (\d+)")]
    private static partial Regex PacketsCapturedRegex();
}
