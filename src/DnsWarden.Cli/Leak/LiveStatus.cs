using System.Globalization;
using DnsWarden.Capture.Live;
using DnsWarden.Leak.Events;

namespace DnsWarden.Cli.Leak;

/// <summary>
/// The one-line live status on a terminal's stderr: packets, DNS messages, leaks by type, drops. Events are
/// counted from the capture thread; the line is drawn from the main thread.
/// </summary>
internal sealed class LiveStatus
{
    private readonly long[] _byType = new long[5];
    private volatile bool _shown;
    private long _lastFrames;
    private long _lastDns;
    private TimeSpan _lastAt;

    public void Count(LeakEvent e)
    {
        int slot = e.Kind == "exfiltration" ? 4 : (int)(e.LeakType ?? LeakType.A);
        Interlocked.Increment(ref _byType[slot]);
    }

    /// <summary>The line: time watched and left, packet and DNS rates since the last line, events by type, drops.</summary>
    public void Show(long frames, long dns, IReadOnlyList<CaptureDrops> drops, TimeSpan elapsed, TimeSpan? remaining)
    {
        double seconds = (elapsed - _lastAt).TotalSeconds;
        double packetRate = seconds > 0 ? (frames - _lastFrames) / seconds : 0;
        double dnsRate = seconds > 0 ? (dns - _lastDns) / seconds : 0;
        (_lastFrames, _lastDns, _lastAt) = (frames, dns, elapsed);
        string clock = Clock(elapsed) + (remaining is TimeSpan left ? $" ({Clock(left)} left)" : "");
        ulong dropped = 0;
        foreach (CaptureDrops d in drops)
        {
            dropped += d.Dropped + d.InterfaceDropped;
        }

        string line = string.Create(CultureInfo.InvariantCulture,
            $"\r\u001b[K{clock}  packets {frames} ({packetRate:0}/s)  DNS {dns} ({dnsRate:0}/s)  leaks A {Read(0)} B {Read(1)} C {Read(2)} D {Read(3)} exfil {Read(4)}  drops {dropped}");
        Console.Error.Write(dropped > 0 ? line + "  \u001b[1;31mDROPPING\u001b[0m" : line);
        _shown = true;
    }

    /// <summary>Clears the status line before other output, so an event line starts at column 0.</summary>
    public void ClearLine()
    {
        if (_shown)
        {
            _shown = false;
            Console.Error.Write("\r\u001b[K");
        }
    }

    private static string Clock(TimeSpan t) =>
        t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture);

    private long Read(int slot) => Interlocked.Read(ref _byType[slot]);
}
