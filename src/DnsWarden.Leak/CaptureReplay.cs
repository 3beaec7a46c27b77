using System.Globalization;
using DnsWarden.Capture.Files;
using DnsWarden.Capture.Filtering;
using DnsWarden.Capture.Live;
using DnsWarden.Leak.Events;

namespace DnsWarden.Leak;

/// <summary>
/// Capture files through the leak pipeline as one input, the way <c>leak watch --pcap</c> reads them: each file in
/// turn, a multi-interface file replayed in time order, frame numbers running on across files inside the pipeline (one
/// <see cref="FrameNumbering"/> gives them back per file), an optional capture filter run before decoding (a frame it
/// drops keeps its number), and one bad file among several named while the rest are read.
/// </summary>
public sealed class CaptureReplay
{
    /// <summary>How far out of time order a multi-interface capture may be written: dumpcap hands over each interface's packets when its buffer fills or its timeout (under a second) expires.</summary>
    public static readonly TimeSpan ReorderWindow = TimeSpan.FromSeconds(2);

    private readonly LeakPipeline _pipeline;
    private readonly FrameNumbering _frames;

    public CaptureReplay(LeakPipeline pipeline, FrameNumbering frames)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(frames);
        _pipeline = pipeline;
        _frames = frames;
    }

    /// <summary>Runs on each frame before it is decoded; a frame it refuses is skipped but keeps its number. Null: every frame.</summary>
    public PacketFilter? Filter { get; init; }

    /// <summary>The interface name for files that do not record one (a classic pcap); null: <c>ifN</c> with a hint.</summary>
    public string? FallbackInterface { get; init; }

    /// <summary>Says, once per file, that a file names no interface (the route class, and a Leak-A's severity, depend on it).</summary>
    public Action<string>? Hint { get; init; }

    /// <summary>
    /// Reads every file (as given: <c>-</c> is standard input) and returns one line per file that could not be opened
    /// or read to its end, with the byte offset and what was expected; every frame before a fault has been processed.
    /// </summary>
    public IReadOnlyList<string> Run(IEnumerable<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var problems = new List<string>();
        long framesBefore = 0;
        foreach (string given in files)
        {
            string path = given == CaptureFileReader.StandardInput ? given : Path.GetFullPath(given);
            string shown = path == CaptureFileReader.StandardInput ? "standard input" : path;
            if (!CaptureFileReader.TryOpen(path, out ICaptureFileReader? reader, out CaptureFileError openError))
            {
                problems.Add(openError.Message.StartsWith(path, StringComparison.Ordinal) ? openError.Message : $"{shown}: {openError.Message}");
                continue;
            }

            using (reader)
            {
                long offset = _frames.Begin(given, framesBefore);
                long frame = 0;
                try
                {
                    frame = Replay(reader!, shown, offset);
                }
                finally
                {
                    framesBefore = offset + Math.Max(frame, reader!.PacketsRead);
                }

                if (reader.Error.IsError)
                {
                    problems.Add(string.Create(CultureInfo.InvariantCulture, $"{shown}: at byte {reader.Error.Offset}: {reader.Error.Message} ({reader.PacketsRead} packets before it were processed)"));
                }
            }
        }

        return problems;
    }

    /// <summary>One file's frames into the pipeline; returns how many frames it held (filtered ones included).</summary>
    private long Replay(ICaptureFileReader reader, string shown, long offset)
    {
        // A file with several interfaces (dumpcap -i a -i b) is written in per-interface blocks: replay it by time.
        TimeOrderBuffer? ordered = null;
        long frame = 0;
        bool hinted = false;
        try
        {
            while (reader.TryReadNext(out CapturedPacket p))
            {
                frame++;
                if (Filter is { } filter && OperatingSystem.IsLinux() && !filter.Matches(p.LinkType, p.Data, p.OriginalLength))
                {
                    continue; // the frame keeps its number: events name the file's frames
                }

                string? recorded = p.InterfaceName ?? FallbackInterface;
                if (recorded is null && !hinted)
                {
                    hinted = true;
                    Hint?.Invoke($"{shown} does not name its interface (a classic pcap); its packets are on if{p.InterfaceId} of unknown kind: give --iface NAME for the interface it was captured on");
                }

                var origin = new FrameOrigin(p.TimestampNs, p.InterfaceId, recorded ?? $"if{p.InterfaceId}", p.LinkType, p.OriginalLength);
                if (ordered is null && reader.Interfaces.Count > 1)
                {
                    ordered = new TimeOrderBuffer(_pipeline.Process, ReorderWindow, interfaceIds: Enumerable.Range(0, reader.Interfaces.Count));
                }

                if (ordered is not null)
                {
                    ordered.Add(in origin, p.Data, offset + frame);
                }
                else
                {
                    _pipeline.Process(in origin, p.Data, offset + frame);
                }
            }

            ordered?.Flush();
        }
        finally
        {
            ordered?.Dispose();
        }

        return frame;
    }
}
