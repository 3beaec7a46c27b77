using DnsWarden.Indicators;
using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Files;
using DnsWarden.Capture.Filtering;
using DnsWarden.Capture.Live;
using DnsWarden.Cli.Export;
using DnsWarden.Export;
using DnsWarden.Leak;
using DnsWarden.Leak.Enrich;
using DnsWarden.Leak.Evidence;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Report;
using DnsWarden.Leak.Rules;
using DnsWarden.Platform;
using DnsWarden.Policy;
using DnsWarden.Report.Leak;
using DnsWarden.Wire.Frames;
using Spectre.Console;

namespace DnsWarden.Cli.Leak;

/// <summary>
/// <c>dnsw leak watch</c>: frames from live interfaces or capture files through the leak pipeline (dissector, flows,
/// rules) to leak events (JSON lines or one line each) and a summary.
/// </summary>
internal static class WatchCommand
{
    public static Command Build()
    {
        var pcap = new Option<FileInfo[]>("--pcap")
        {
            Description = "Read pcap or pcapng files instead of capturing live (several after one --pcap, or repeated; read in order; - is standard input; gzip is read through).",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        var iface = new Option<string[]>("--iface")
        {
            Description = "Live: capture on this interface (repeatable; default every interface that is up; any: all at once, each packet named by its interface). Files: the name of the interface a classic pcap recorded (pcapng names its own).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var excludeIface = new Option<string[]>("--exclude-iface")
        {
            Description = "Leave out this interface (repeatable; a glob such as veth* is allowed): live it is not opened, and its packets in an \"any\" capture or a file are not read.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var filter = new Option<string?>("--filter")
        {
            Description = "Read only the packets this capture filter matches (tcpdump syntax, compiled by libpcap), e.g. 'udp port 53' or 'not host 10.0.0.5'; live and files.",
        };
        var ifaceIndex = new Option<string[]>("--iface-index")
        {
            Description = "Name the interface indexes a Linux \"any\" capture records, e.g. 2=eth0 (repeatable).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        ifaceIndex.Validators.Add(r =>
        {
            foreach (string s in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!TryParseIndexName(s, out _, out _))
                {
                    r.AddError($"--iface-index: '{s}' is not INDEX=NAME (e.g. 2=eth0)");
                }
            }
        });
        var duration = new Option<string>("--duration")
        {
            Description = "How long to watch live, e.g. 10s, 500ms, 2m; 0 = until Ctrl-C.",
            DefaultValueFactory = _ => "10s",
        };
        duration.Validators.Add(r =>
        {
            string text = r.GetValueOrDefault<string>() ?? "";
            if (!PolicyDuration.TryParse(text, out _))
            {
                r.AddError($"--duration: '{text}' is not a duration (expected {PolicyDuration.Expected})");
            }
        });
        var format = new Option<string>("--format")
        {
            Description = "human: one line per event and a summary table; json: JSON lines on stdout, the summary last; ecs: the same lines in Elastic Common Schema (docs/ECS.md), also in --out and --observations.",
            DefaultValueFactory = _ => "human",
        };
        format.AcceptOnlyFromAmong("human", "json", "ecs");
        Option<string?> privacy = PrivacyOption.Create("What events keep (redacted cuts names to the base domain and sources to their network)");
        var output = new Option<FileInfo?>("--out") { Description = "Also write every event as JSON lines to this file, the summary last (input of `dnsw leak report`); in ECS with --format ecs." };
        var observations = new Option<FileInfo?>("--observations") { Description = "Write every DNS/TLS/QUIC observation (before the rules, unredacted) as JSON lines to this file." };
        var geoip = new Option<FileInfo[]>("--geoip")
        {
            Description = "MaxMind-format database (.mmdb: country/city and/or ASN) for the destinations' GeoIP (repeatable).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var follow = new Option<bool>("--follow")
        {
            Description = "Live, human format: print each event as it is found (otherwise a status line and the summary).",
        };
        var ifaceDiag = new Option<bool>("--iface-diag")
        {
            Description = "List the interfaces libpcap sees, which can be opened for capture and why not, then exit.",
        };
        var noBpf = new Option<bool>("--no-bpf")
        {
            Description = "Live: do not load the send-time attribution program (BPF); name processes at packet time only (also DNSW_NO_BPF=1).",
        };
        var writePcap = new Option<FileInfo?>("--write-pcap") { Description = "Write the packets of every event (query and answer, a connection's first packets) to this pcapng, each with a comment naming its event." };
        var html = new Option<FileInfo?>("--html") { Description = "Write the report as one self-contained HTML page (charts, events with their evidence, filters) to this file." };
        var policy = new PolicyOptions();
        var export = new ExportOptions("leak-watch");

        var command = new Command("watch", "Detect DNS leaks (Leak-A/B/C/D, exfiltration) live or in capture files.")
        {
            pcap, iface, excludeIface, ifaceIndex, filter, duration, format, privacy, output, observations, geoip, follow, ifaceDiag, noBpf, writePcap, html,
        };
        policy.AddTo(command);
        export.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            if (parse.GetValue(ifaceDiag))
            {
                return Task.FromResult(InterfaceDiagnosis(Terminal.Stdout));
            }

            // A filter that does not compile is a bad command line: one line, before any input is opened.
            string? expression = parse.GetValue(filter);
            if (expression is not null && !CheckFilter(expression, out string? filterError))
            {
                Console.Error.WriteLine($"dnsw: --filter '{expression}': {filterError}");
                return Task.FromResult(ExitCodes.Usage);
            }

            if (!policy.TryBuild(parse, out LeakPolicy? leakPolicy, out string? policyError))
            {
                Console.Error.WriteLine($"dnsw: {policyError}");
                return Task.FromResult(ExitCodes.InputError);
            }

            if (!export.TryBuild(parse, out ExportSettings? exportSettings, out string? exportError))
            {
                Console.Error.WriteLine($"dnsw: {exportError}");
                return Task.FromResult(ExitCodes.InputError);
            }

            PolicyDuration.TryParse(parse.GetValue(duration)!, out TimeSpan limit);
            PrivacyFilter.TryParse(parse.GetValue(privacy)!, out PrivacyMode mode);
            var names = new Dictionary<int, string>();
            foreach (string s in parse.GetValue(ifaceIndex) ?? [])
            {
                TryParseIndexName(s, out int index, out string? name);
                names[index] = name!;
            }

            var options = new WatchOptions(
                parse.GetValue(pcap) ?? [],
                parse.GetValue(iface) ?? [],
                names,
                limit,
                parse.GetValue(format) is "json" or "ecs",
                mode,
                parse.GetValue(output),
                parse.GetValue(observations),
                parse.GetValue(geoip) ?? [],
                leakPolicy!,
                parse.GetValue(follow),
                !parse.GetValue(noBpf) && Environment.GetEnvironmentVariable("DNSW_NO_BPF") is not ("1" or "true" or "yes"),
                exportSettings)
            {
                WritePcap = parse.GetValue(writePcap),
                Html = parse.GetValue(html),
                Filter = expression,
                ExcludeInterfaces = parse.GetValue(excludeIface) ?? [],
                Ecs = parse.GetValue(format) == "ecs",
            };
            return Task.FromResult(Run(options, ct));
        });
        return command;
    }

    private sealed record WatchOptions(
        FileInfo[] Files,
        string[] Interfaces,
        Dictionary<int, string> IndexNames,
        TimeSpan Duration,
        bool Json,
        PrivacyMode Privacy,
        FileInfo? Out,
        FileInfo? Observations,
        FileInfo[] GeoIp,
        LeakPolicy Policy,
        bool Follow,
        bool UseBpf,
        ExportSettings? Export)
    {
        public FileInfo? WritePcap { get; init; }

        /// <summary><c>--format ecs</c>: stdout, <c>--out</c> and <c>--observations</c> in Elastic Common Schema.</summary>
        public bool Ecs { get; init; }

        public FileInfo? Html { get; init; }

        /// <summary>The user's capture filter (tcpdump syntax), or null.</summary>
        public string? Filter { get; init; }

        public string[] ExcludeInterfaces { get; init; } = [];
    }

    /// <summary>Whether libpcap compiles the expression (for Ethernet, before any input is known); its message when not.</summary>
    private static bool CheckFilter(string expression, out string? error)
    {
        if (!OperatingSystem.IsLinux())
        {
            error = "capture filters are read with libpcap on Linux only";
            return false;
        }

        try
        {
            if (!PacketFilter.TryCreate(expression, out PacketFilter? compiled, out error))
            {
                return false;
            }

            compiled!.Dispose();
            return true;
        }
        catch (DllNotFoundException)
        {
            error = "libpcap is not installed (apt-get install libpcap0.8)";
            return false;
        }
    }

    private const int OutputBufferSize = 1 << 16;

    private static readonly TimeSpan s_statusInterval = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan s_clockLag = TimeSpan.FromSeconds(1);

    private static bool TryParseIndexName(string text, out int index, out string? name)
    {
        name = null;
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        index = 0;
        if (eq <= 0 || eq == text.Length - 1 || !int.TryParse(text.AsSpan(0, eq), NumberStyles.None, CultureInfo.InvariantCulture, out index))
        {
            return false;
        }

        name = text[(eq + 1)..];
        return true;
    }

    private static int Run(WatchOptions options, CancellationToken ct)
    {
        // Human text goes to stdout, unless stdout carries JSON lines: then to stderr.
        IAnsiConsole console = options.Json ? Terminal.Stderr : Terminal.Stdout;
        GeoIpLookup? geo = null;
        if (options.GeoIp.Length > 0 && !GeoIpLookup.TryOpen([.. options.GeoIp.Select(f => f.FullName)], out geo, out string? geoError))
        {
            Console.Error.WriteLine($"dnsw: {geoError}");
            return ExitCodes.InputError;
        }

        using GeoIpLookup? geoScope = geo;
        ClickHouseExporter? exporter = null;
        if (options.Export is { } exportSettings && (exporter = ExportOptions.Start(exportSettings, Console.Error, out string? exportError)) is null)
        {
            Console.Error.WriteLine($"dnsw: {exportError}");
            return ExitCodes.InputError;
        }

        try
        {
            return Run(options, ct, console, geo, exporter);
        }
        finally
        {
            if (exporter is not null)
            {
                ExportOptions.Finish(exporter, Console.Error);
            }
        }
    }

    private static int Run(WatchOptions options, CancellationToken ct, IAnsiConsole console, GeoIpLookup? geo, ClickHouseExporter? exporter)
    {
        FileStream? outFile = null;
        FileStream? observationsFile = null;
        FileStream? pcapFile = null;
        FileStream? htmlFile = null;
        if ((options.Out is { } outPath && (outFile = OutputFiles.TryOpen("--out", outPath.FullName, append: false, Console.Error, OutputBufferSize)) is null)
            || (options.Observations is { } obsPath && (observationsFile = OutputFiles.TryOpen("--observations", obsPath.FullName, append: false, Console.Error)) is null)
            || (options.WritePcap is { } pcapPath && (pcapFile = OutputFiles.TryOpen("--write-pcap", pcapPath.FullName, append: false, Console.Error, OutputBufferSize)) is null)
            || (options.Html is { } htmlPath && (htmlFile = OutputFiles.TryOpen("--html", htmlPath.FullName, append: false, Console.Error, OutputBufferSize)) is null))
        {
            outFile?.Dispose();
            observationsFile?.Dispose();
            pcapFile?.Dispose();
            return ExitCodes.InputError;
        }

        // Files: output is buffered (a write per event would cost more than finding it). Live: every event is
        // flushed as it is found, so an interrupted or killed watch has written all it saw.
        bool live = options.Files.Length == 0;
        using Stream stdoutRaw = Console.OpenStandardOutput();
        using var stdout = new BufferedStream(stdoutRaw, OutputBufferSize);
        using var json = options.Json ? new Utf8JsonWriter(stdout, LeakEventJson.WriterOptions) : null;
        using TextWriter? humanOut = options.Json ? null : live ? Console.Out : new StreamWriter(stdout, new System.Text.UTF8Encoding(false), OutputBufferSize, leaveOpen: true);
        using FileStream? outScope = outFile;
        using FileStream? pcapScope = pcapFile;
        using FileStream? htmlScope = htmlFile;
        using var fileJson = outFile is null ? null : new Utf8JsonWriter(outFile, LeakEventJson.WriterOptions);
        using ObservationJson? observations = observationsFile is null || options.Ecs ? null : new ObservationJson(observationsFile);
        using ObservationEcs? observationsEcs = observationsFile is null || !options.Ecs ? null : new ObservationEcs(observationsFile);
        var privacy = new PrivacyFilter(options.Privacy, BaseDomains.Default);
        var summary = new LeakSummary();
        LeakReportEvents? listed = htmlFile is null ? null : new LeakReportEvents();
        using PcapNgWriter? pcapWriter = pcapFile is null ? null : new PcapNgWriter(pcapFile, leaveOpen: true);
        // Several files are one input: frame numbers run on inside, and each goes out in its own file's numbering.
        var frames = new FrameNumbering(options.Files.Length);
        EvidenceRecorder? evidence = pcapWriter is null ? null : new EvidenceRecorder(pcapWriter, flushEachWrite: live, frames: frames);
        var traffic = new WatchSummary();

        var liveStatus = new LiveStatus();
        void OnEvent(LeakEvent raw)
        {
            LeakEvent e = privacy.Apply(frames.Localize(raw));
            summary.Add(e);
            listed?.Add(e);
            liveStatus.Count(e);
            if (json is not null)
            {
                liveStatus.ClearLine();
                WriteLine(json, stdout, e, live, options.Ecs);
            }
            else if (!live || options.Follow)
            {
                liveStatus.ClearLine();
                humanOut!.WriteLine(EventLine.Coloured(e, !Console.IsOutputRedirected));
            }

            if (fileJson is not null)
            {
                WriteLine(fileJson, outFile!, e, live, options.Ecs);
            }

            exporter?.TryAdd(LeakRows.ToRow(e, BaseDomains.Default));
        }

        Func<int, string>? indexNames = options.IndexNames.Count == 0
            ? null
            : i => options.IndexNames.TryGetValue(i, out string? n) ? n : "ifindex" + i.ToString(CultureInfo.InvariantCulture);
        // Live: every event names the process that sent it: the kernel's send-time record (BPF) where it can be loaded,
        // else the socket's owner at packet time (sock_diag, /proc, or IP Helper).
        IFlowOwnerProvider? owners = live ? FlowOwnerProviders.CreateDefault(options.UseBpf) : null;
        using PlatformAttributor? attributor = owners is null ? null : new PlatformAttributor(owners);
        (string Source, string Words, string? Reason)? attribution = null;
        if (live)
        {
            attribution = AttributionMode(owners!);
            console.MarkupLine($"[grey]process attribution: {Markup.Escape(attribution.Value.Words)}{(attribution.Value.Reason is { } why ? "; send-time attribution off: " + Markup.Escape(why) : "")}[/]");
            attributor!.WarmUp();
            LeakPipeline.WarmUp(options.Policy);
        }
        // Live on Linux: interfaces named from their index in an "any" capture, and judged by what the kernel says of them.
        KernelInterfaceTable? interfaces = null;
        if (live && OperatingSystem.IsLinux() && !KernelInterfaceTable.TryRead(out interfaces, out string? tableError))
        {
            console.MarkupLine($"[grey]interfaces judged by name only: {Markup.Escape(tableError ?? "rtnetlink unreadable")}[/]");
        }

        var pipeline = new LeakPipeline(options.Policy, OnEvent, new LeakPipelineOptions(
            Attributor: attributor,
            GeoIp: geo,
            InterfaceIndexNames: indexNames,
            Evidence: evidence,
            Interfaces: interfaces,
            ExcludeInterfaces: options.ExcludeInterfaces,
            OnObservation: obs =>
            {
                traffic.Add(obs);
                observations?.Write(obs, frames);
                observationsEcs?.Write(obs, frames);
            }));

        FilterCounts? filtered = null;
        int status = options.Files.Length > 0
            ? RunFiles(options, pipeline, frames, out string? problem, out IReadOnlyList<CaptureDrops> drops, out filtered)
            : RunLive(options, pipeline, liveStatus, console, ct, out problem, out drops);
        if (live && options.Filter is not null)
        {
            filtered = new FilterCounts(options.Filter, pipeline.Dissector.Frames, null);
        }
        if (status == ExitCodes.CaptureError)
        {
            // Nothing was watched: the reason alone, on one line.
            Console.Error.WriteLine($"dnsw: {problem}");
            return status;
        }

        pipeline.Complete();
        observations?.Flush();
        observationsEcs?.Flush();
        var totals = new CaptureTotals(
            pipeline.Dissector.Frames, pipeline.Dissector.DnsMessages, pipeline.Dissector.TlsClientHellos, pipeline.Dissector.QuicInitials,
            pipeline.FlowsDropped, pipeline.Dissector.Malformed,
            [.. drops.Select(d => (d.Interface, (long)d.Dropped, (long)d.InterfaceDropped))])
        {
            AttributionSource = attribution?.Source,
            AttributionReason = attribution?.Reason,
            SendRecords = OperatingSystem.IsLinux() && owners is SendTimeOwnerProvider { UnavailableReason: null } records ? records.Records : null,
            SendRecordsLost = OperatingSystem.IsLinux() && owners is SendTimeOwnerProvider { UnavailableReason: null } lost ? lost.LostRecords : null,
        };
        string policyName = options.Policy.Source;
        string privacyName = PrivacyFilter.Name(options.Privacy);
        // One time for the summary wherever it is written: stdout and --out carry the same line.
        DateTimeOffset summaryTime = DateTimeOffset.UtcNow;
        if (json is not null)
        {
            WriteSummary(json, summary, policyName, privacyName, totals, options.Ecs, summaryTime);
            json.Flush();
            stdout.WriteByte((byte)'\n');
        }

        if (fileJson is not null)
        {
            WriteSummary(fileJson, summary, policyName, privacyName, totals, options.Ecs, summaryTime);
            fileJson.Flush();
            outFile!.WriteByte((byte)'\n');
        }

        // Every event line is out before the summary is drawn (the human summary goes to the same stdout).
        humanOut?.Flush();
        stdout.Flush();
        outFile?.Flush();
        if (listed is not null)
        {
            string source = !live ? "capture files " + string.Join(", ", options.Files.Select(f => f.Name))
                : options.Interfaces.Length > 0 ? "live on " + string.Join(", ", options.Interfaces)
                : "live on every interface up";
            string page = LeakHtmlReport.Render(summary, listed.Listed, listed.NotListed, new LeakReportContext
            {
                Source = source,
                Policy = policyName,
                Privacy = privacyName,
                EvidenceFile = options.WritePcap?.Name,
                Capture = totals,
            });
            if (!OutputFiles.TryWrite(htmlFile!, page, "--html"))
            {
                status = status == ExitCodes.Ok ? ExitCodes.InputError : status;
            }
        }

        RenderSummary(console, pipeline.Dissector, traffic, summary, policyName, privacyName, drops, problem, filtered);
        if (evidence is not null)
        {
            EvidenceStats e = evidence.Stats;
            if (evidence.WriteError is { } evidenceError)
            {
                Console.Error.WriteLine($"dnsw: --write-pcap {options.WritePcap!.FullName}: {evidenceError} (the evidence stops there; the events do not)");
                status = status == ExitCodes.Ok ? ExitCodes.InputError : status;
            }

            string peak = e.PeakBytes < 1 << 20 ? $"{e.PeakBytes / 1024.0:0} KiB" : $"{e.PeakBytes / 1048576.0:0.0} MiB";
            // One line, never wrapped at the console's width: scripts read it.
            console.Profile.Out.Writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"evidence: {e.PacketsWritten} packets of {e.EventsComplete + e.EventsIncomplete} events in {options.WritePcap!.FullName} (buffer peak {peak}){(e.EventsIncomplete > 0 ? $"; {e.EventsIncomplete} event(s) had packets no longer in the buffer" : "")}"));
        }

        if (status != ExitCodes.Ok)
        {
            return status;
        }

        return summary.Events > 0 ? ExitCodes.LeaksFound : ExitCodes.Ok;
    }

    private static void WriteSummary(Utf8JsonWriter writer, LeakSummary summary, string policy, string privacy, CaptureTotals totals, bool ecs, DateTimeOffset time)
    {
        if (ecs)
        {
            LeakSummaryEcs.Write(writer, summary, policy, privacy, totals, time);
        }
        else
        {
            summary.WriteJson(writer, policy, privacy, totals);
        }
    }

    private static void WriteLine(Utf8JsonWriter writer, Stream stream, LeakEvent e, bool flush, bool ecs)
    {
        if (ecs)
        {
            LeakEventEcs.Write(writer, e);
        }
        else
        {
            LeakEventJson.Write(writer, e);
        }

        writer.Flush();
        stream.WriteByte((byte)'\n');
        writer.Reset();
        if (flush)
        {
            stream.Flush();
        }
    }

    /// <summary>What <c>--filter</c> kept and dropped; <paramref name="Dropped"/> is null live (the kernel drops them uncounted).</summary>
    private sealed record FilterCounts(string Expression, long Kept, long? Dropped);

    private static int RunFiles(
        WatchOptions options, LeakPipeline pipeline, FrameNumbering frames, out string? problem, out IReadOnlyList<CaptureDrops> drops, out FilterCounts? filtered)
    {
        drops = [];
        problem = null;
        filtered = null;
        // Checked at the start, so it compiles; a file of another link type may still not take it (named below).
        using PacketFilter? filter = options.Filter is not null && OperatingSystem.IsLinux() && PacketFilter.TryCreate(options.Filter, out PacketFilter? f, out _) ? f : null;
        var replay = new CaptureReplay(pipeline, frames)
        {
            Filter = filter,
            FallbackInterface = options.Interfaces.FirstOrDefault(),
            Hint = hint => Console.Error.WriteLine("dnsw: " + hint),
        };
        List<string> problems = [.. replay.Run(options.Files.Select(file => file.ToString()))];
        if (filter is not null && OperatingSystem.IsLinux())
        {
            filtered = new FilterCounts(filter.Expression, filter.Kept, filter.Dropped);
            foreach ((LinkType link, string why) in filter.Failures)
            {
                problems.Add($"--filter '{filter.Expression}': {why} (link type {link}: its packets were not read)");
            }
        }

        // Every file that could not be read (or read to its end) is one line; the others' events stand.
        problem = problems.Count > 0 ? string.Join('\n', problems) : null;
        return problems.Count > 0 ? ExitCodes.InputError : ExitCodes.Ok;
    }

    private static int RunLive(
        WatchOptions options, LeakPipeline pipeline, LiveStatus status, IAnsiConsole console, CancellationToken ct, out string? problem, out IReadOnlyList<CaptureDrops> drops)
    {
        drops = [];
        problem = null;
        LiveCapture capture;
        try
        {
            capture = LiveCapture.Open(
                options.Interfaces, LiveCapture.FilterWith(options.Filter),
                excluded: options.ExcludeInterfaces.Length > 0 ? LeakPipeline.ExclusionOf(options.ExcludeInterfaces) : null);
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
            capture.Start(pipeline.Process);
            DateTime started = DateTime.UtcNow;
            DateTime end = options.Duration == TimeSpan.Zero ? DateTime.MaxValue : started + options.Duration;

            // A status line on a terminal, refreshed twice a second; nothing when stderr is a file or a pipe.
            bool showStatus = !Console.IsErrorRedirected;
            while (!stop.Token.IsCancellationRequested)
            {
                TimeSpan left = end - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    break;
                }

                stop.Token.WaitHandle.WaitOne(left < s_statusInterval ? left : s_statusInterval);

                // The clock moves packet time on a quiet link, a second behind (frames still on their way keep their
                // place), so a query seen only inside the host is written without waiting for the next frame.
                long clock = (DateTime.UtcNow - DateTime.UnixEpoch - s_clockLag).Ticks * 100;
                capture.BetweenFrames(() => pipeline.Advance(clock));
                if (showStatus)
                {
                    DateTime now = DateTime.UtcNow;
                    status.Show(pipeline.Dissector.Frames, pipeline.Dissector.DnsMessages, capture.Statistics(), now - started, end == DateTime.MaxValue ? null : end - now);
                }
            }

            capture.Stop();
            status.ClearLine();
            drops = capture.Statistics();
        }

        return ExitCodes.Ok;
    }

    /// <summary>How processes are named in this run (the summary's <c>attribution.source</c>), in words, and why not at send time when they are not.</summary>
    private static (string Source, string Words, string? Reason) AttributionMode(IFlowOwnerProvider owners)
    {
        if (OperatingSystem.IsLinux() && owners is SendTimeOwnerProvider p)
        {
            return p.UnavailableReason is null
                ? ("bpf", $"bpf at send time (attached at {p.AttachedAt}), sock_diag for sockets older than the watch", null)
                : ("sock_diag", "sock_diag at packet time", p.UnavailableReason);
        }

        return OperatingSystem.IsWindows() ? ("iphelper", "IP Helper tables at packet time", null) : ("none", "none on this OS", null);
    }

    /// <summary><c>--iface-diag</c>: every interface libpcap lists, and whether it can be opened (and why not).</summary>
    private static int InterfaceDiagnosis(IAnsiConsole console)
    {
        IReadOnlyList<InterfaceProbe> probes;
        try
        {
            probes = LiveCapture.Probe();
        }
        catch (DllNotFoundException)
        {
            Console.Error.WriteLine("dnsw: libpcap is not installed (apt-get install libpcap0.8)");
            return ExitCodes.CaptureError;
        }

        var table = new Table().Border(TableBorder.Rounded).Title("capture interfaces");
        table.AddColumn("interface");
        table.AddColumn("up");
        table.AddColumn("loopback");
        table.AddColumn("can capture");
        foreach (InterfaceProbe p in probes)
        {
            table.AddRow(
                Markup.Escape(p.Name), p.IsUp ? "yes" : "no", p.IsLoopback ? "yes" : "no",
                p.Error is null ? "[green]yes[/]" : "[red]no[/]: " + Markup.Escape(p.Error));
        }

        console.Write(table);
        return probes.Any(p => p.Error is null) ? ExitCodes.Ok : ExitCodes.CaptureError;
    }

    private static void RenderSummary(
        IAnsiConsole console, DissectorStats stats, WatchSummary traffic, LeakSummary leaks, string policy, string privacy,
        IReadOnlyList<CaptureDrops> drops, string? problem, FilterCounts? filtered)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("dnsw leak watch — traffic");
        table.AddColumn("what");
        table.AddColumn(new TableColumn("count").RightAligned());
        void Row(string label, long value) => table.AddRow(Markup.Escape(label), value.ToString(CultureInfo.InvariantCulture));
        Row("frames", stats.Frames);
        Row("  decoded IP", stats.Decoded);
        Row("  not IP", stats.NotIp);
        Row("  malformed", stats.MalformedTotal);
        if (stats.Excluded > 0)
        {
            Row("  excluded (--exclude-iface)", stats.Excluded);
        }

        if (filtered is not null)
        {
            Row($"filter {filtered.Expression}: kept", filtered.Kept);
            table.AddRow("  dropped by the filter", filtered.Dropped?.ToString(CultureInfo.InvariantCulture) ?? "not counted (in the kernel)");
        }

        table.AddRow("  fragments / reassembled", $"{stats.Fragments} / {stats.Reassembled}");
        Row("DNS messages", stats.DnsMessages);
        Row("TLS ClientHellos", stats.TlsClientHellos);
        Row("QUIC Initials", stats.QuicInitials);
        foreach ((string key, long value) in traffic.ByTransport.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Row("transport " + key, value);
        }

        foreach ((string key, long value) in traffic.ByInterface.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Row("interface " + key, value);
        }

        foreach ((string key, long value) in stats.Malformed.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Row("malformed " + key, value);
        }

        console.Write(table);
        ReportRenderer.Render(console, leaks, policy, privacy);
        foreach (CaptureDrops d in drops)
        {
            bool dropped = d.Dropped > 0 || d.InterfaceDropped > 0;
            string line = $"capture {d.Interface}: received {d.Received}, dropped by kernel {d.Dropped}, by interface {d.InterfaceDropped}";
            console.MarkupLine(dropped ? $"[bold red]DROPS: {Markup.Escape(line)}[/]" : $"[grey]{Markup.Escape(line)}[/]");
        }

        // One line each, never wrapped at the console's width: the file, the offset and what was expected stay together.
        foreach (string line in problem?.Split('\n') ?? [])
        {
            console.Profile.Out.Writer.WriteLine("error: " + line);
        }
    }
}
