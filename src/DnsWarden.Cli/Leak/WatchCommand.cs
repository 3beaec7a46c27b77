using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Files;
using DnsWarden.Capture.Live;
using Spectre.Console;

namespace DnsWarden.Cli.Leak;

/// <summary><c>dnsw leak watch</c>: frames from live interfaces or capture files through the dissector to JSON lines and a summary.</summary>
internal static class WatchCommand
{
    public static Command Build()
    {
        var pcap = new Option<FileInfo[]>("--pcap")
        {
            Description = "Read a pcap or pcapng file instead of capturing live (repeatable; files are read in order).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var iface = new Option<string[]>("--iface")
        {
            Description = "Capture on this interface (repeatable). Default: every interface that is up.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var duration = new Option<string>("--duration")
        {
            Description = "How long to watch live, e.g. 10s, 500ms, 2m; 0 = until Ctrl-C.",
            DefaultValueFactory = _ => "10s",
        };
        duration.Validators.Add(r =>
        {
            string text = r.GetValueOrDefault<string>() ?? "";
            if (!DurationParser.TryParse(text, out _))
            {
                r.AddError($"--duration: '{text}' is not a duration (expected e.g. 10s, 500ms, 2m, 0)");
            }
        });
        var format = new Option<string>("--format")
        {
            Description = "human: one line per observation and a summary table; json: JSON lines on stdout, summary last.",
            DefaultValueFactory = _ => "human",
        };
        format.AcceptOnlyFromAmong("human", "json");
        var output = new Option<FileInfo?>("--out") { Description = "Also write every observation as JSON lines to this file." };

        var command = new Command("watch", "Watch DNS, DoT, DoH and QUIC traffic live or from capture files.")
        {
            pcap, iface, duration, format, output,
        };
        command.SetAction((parse, ct) =>
        {
            DurationParser.TryParse(parse.GetValue(duration)!, out TimeSpan limit);
            var options = new WatchOptions(
                parse.GetValue(pcap) ?? [],
                parse.GetValue(iface) ?? [],
                limit,
                parse.GetValue(format) == "json",
                parse.GetValue(output));
            return Task.FromResult(Run(options, ct));
        });
        return command;
    }

    private sealed record WatchOptions(FileInfo[] Files, string[] Interfaces, TimeSpan Duration, bool Json, FileInfo? Out);

    private static int Run(WatchOptions options, CancellationToken ct)
    {
        // Human text goes to stdout, unless stdout carries JSON lines: then to stderr.
        IAnsiConsole console = options.Json
            ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) })
            : AnsiConsole.Console;
        using Stream stdout = Console.OpenStandardOutput();
        using ObservationJson? json = options.Json ? new ObservationJson(stdout) : null;
        using ObservationJson? file = options.Out is { } f ? new ObservationJson(File.Create(f.FullName)) : null;
        var summary = new WatchSummary();
        var dissector = new FrameDissector(o =>
        {
            summary.Add(o);
            json?.Write(o);
            file?.Write(o);
            if (!options.Json)
            {
                Console.Out.WriteLine(HumanLine(o));
            }
        });

        int status = options.Files.Length > 0
            ? RunFiles(options.Files, dissector, console, out string? problem, out IReadOnlyList<CaptureDrops> drops)
            : RunLive(options, dissector, console, ct, out problem, out drops);
        if (status == ExitCodes.CaptureError)
        {
            // Nothing was watched: the reason alone, on one line.
            Console.Error.WriteLine($"dnsw: {problem}");
            return status;
        }

        dissector.Complete();
        json?.Flush();
        file?.Flush();
        RenderSummary(console, dissector.Stats, summary, drops, problem);
        return status;
    }

    private static int RunFiles(FileInfo[] files, FrameDissector dissector, IAnsiConsole console, out string? problem, out IReadOnlyList<CaptureDrops> drops)
    {
        drops = [];
        problem = null;
        foreach (FileInfo fileInfo in files)
        {
            if (!CaptureFileReader.TryOpen(fileInfo.FullName, out ICaptureFileReader? reader, out CaptureFileError openError))
            {
                problem = $"{fileInfo.FullName}: {openError.Message}";
                return ExitCodes.InputError;
            }

            using (reader)
            {
                while (reader!.TryReadNext(out CapturedPacket p))
                {
                    var origin = new FrameOrigin(p.TimestampNs, p.InterfaceId, p.InterfaceName ?? $"if{p.InterfaceId}", p.LinkType, p.OriginalLength);
                    dissector.Process(in origin, p.Data);
                }

                if (reader.Error.IsError)
                {
                    problem = string.Create(CultureInfo.InvariantCulture, $"{fileInfo.FullName}: at byte {reader.Error.Offset}: {reader.Error.Message} ({reader.PacketsRead} packets before it were processed)");
                    return ExitCodes.InputError;
                }
            }
        }

        return ExitCodes.Ok;
    }

    private static int RunLive(WatchOptions options, FrameDissector dissector, IAnsiConsole console, CancellationToken ct, out string? problem, out IReadOnlyList<CaptureDrops> drops)
    {
        drops = [];
        problem = null;
        LiveCapture capture;
        try
        {
            capture = LiveCapture.Open(options.Interfaces);
        }
        catch (CaptureOpenException e)
        {
            problem = e.Message;
            return ExitCodes.CaptureError;
        }
        catch (DllNotFoundException)
        {
            problem = "libpcap is not installed (apt-get install libpcap0.8)";
            return ExitCodes.CaptureError;
        }

        using (capture)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            void Stop(PosixSignalContext c)
            {
                c.Cancel = true;
                stop.Cancel();
            }

            using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            string until = options.Duration == TimeSpan.Zero ? "until Ctrl-C" : $"for {options.Duration.TotalSeconds:0.###} s";
            console.MarkupLine($"[grey]watching {Markup.Escape(string.Join(", ", capture.Interfaces))} {until}[/]");
            capture.Start(dissector.Process);
            stop.Token.WaitHandle.WaitOne(options.Duration == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : options.Duration);
            capture.Stop();
            drops = capture.Statistics();
        }

        return ExitCodes.Ok;
    }

    private static string HumanLine(Observation o)
    {
        string time = DateTimeOffset.UnixEpoch.AddTicks(o.Origin.TimestampNs / 100).ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        string flow = $"{WatchSummary.Endpoint(o.Flow.Source, o.Flow.SourcePort)} > {WatchSummary.Endpoint(o.Flow.Destination, o.Flow.DestinationPort)}";
        string what = o.Dns is { } d
            ? d.IsResponse
                ? $"R {RcodeName(d.Rcode)} {d.QName} {ObservationJson.TypeName(d.QType)}" + (d.Answers.Count > 0 ? " -> " + string.Join(", ", d.Answers.Select(a => Clip(a.Data))) : "")
                : $"Q {d.QName} {ObservationJson.TypeName(d.QType)}"
            : $"{(o.Kind == ObservationKind.QuicInitial ? "QUIC Initial" : "ClientHello")} sni={o.ServerName ?? "-"} alpn={string.Join(",", o.Alpn)}";
        return Printable($"{time} {o.Origin.InterfaceName,-10} {o.Transport,-6} {flow}  {what}");
    }

    private static string Clip(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 61), "...");

    /// <summary>Names and TXT data come from the network: control characters must not reach the terminal.</summary>
    private static string Printable(string text) =>
        text.Any(char.IsControl) ? string.Concat(text.Select(c => char.IsControl(c) ? "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture) : c.ToString())) : text;

    private static string RcodeName(ushort rcode) => rcode switch
    {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "RCODE" + rcode.ToString(CultureInfo.InvariantCulture),
    };

    private static void RenderSummary(IAnsiConsole console, DissectorStats stats, WatchSummary summary, IReadOnlyList<CaptureDrops> drops, string? problem)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("dnsw leak watch — summary");
        table.AddColumn("what");
        table.AddColumn(new TableColumn("count").RightAligned());
        void Row(string label, long value) => table.AddRow(Markup.Escape(label), value.ToString(CultureInfo.InvariantCulture));
        Row("frames", stats.Frames);
        Row("  decoded IP", stats.Decoded);
        Row("  not IP", stats.NotIp);
        Row("  malformed", stats.MalformedTotal);
        table.AddRow("  fragments / reassembled", $"{stats.Fragments} / {stats.Reassembled}");
        Row("DNS messages", stats.DnsMessages);
        Row("TLS ClientHellos", stats.TlsClientHellos);
        Row("QUIC Initials", stats.QuicInitials);
        foreach ((string key, long value) in summary.ByTransport.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Row("transport " + key, value);
        }

        foreach ((string key, long value) in summary.ByInterface.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Row("interface " + key, value);
        }

        foreach ((string key, long value) in stats.Malformed.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Row("malformed " + key, value);
        }

        console.Write(table);
        if (summary.Resolvers.Count > 0)
        {
            console.MarkupLine("[bold]top resolver destinations[/]");
            foreach ((string key, long value) in WatchSummary.Top(summary.Resolvers, 5))
            {
                console.MarkupLine($"  {value,6}  {Markup.Escape(key)}");
            }

            console.MarkupLine("[bold]top names[/]");
            foreach ((string key, long value) in WatchSummary.Top(summary.Names, 5))
            {
                console.MarkupLine($"  {value,6}  {Markup.Escape(key)}");
            }
        }

        foreach (CaptureDrops d in drops)
        {
            bool dropped = d.Dropped > 0 || d.InterfaceDropped > 0;
            string line = $"capture {d.Interface}: received {d.Received}, dropped by kernel {d.Dropped}, by interface {d.InterfaceDropped}";
            console.MarkupLine(dropped ? $"[bold red]DROPS: {Markup.Escape(line)}[/]" : $"[grey]{Markup.Escape(line)}[/]");
        }

        if (problem is not null)
        {
            console.MarkupLine($"[bold red]error:[/] {Markup.Escape(problem)}");
        }
    }
}
