using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Indicators;
using DnsWarden.Platform.Enforcement;
using DnsWarden.Platform.Users;
using DnsWarden.Policy;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Hosting;
using DnsWarden.Resolver.Listeners;
using DnsWarden.Resolver.Logging;
using DnsWarden.Resolver.Upstreams;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Tun;

/// <summary>What <c>dnsw tun --netns NAME</c> was asked to do.</summary>
public sealed record TunRunOptions
{
    public required string Namespace { get; init; }

    public TunFilterMode Mode { get; init; } = TunFilterMode.Firewall;

    /// <summary>The virtual DNS's engine: upstreams, strategy and timeout, cache, tracker TTLs, policy (<c>--config</c>, <see cref="GuardEngine.Defaults"/>).</summary>
    public ProxyConfig Engine { get; init; } = GuardEngine.Defaults;

    /// <summary>Every query as a JSON line (the resolver's query log), with <see cref="Privacy"/>.</summary>
    public string? QueryLogPath { get; init; }

    public PrivacyMode Privacy { get; init; } = PrivacyMode.Redacted;

    /// <summary>Whose file the query log is: it is opened with that user's credentials (null: as this process).</summary>
    public UserAccount? OutputOwner { get; init; }

    /// <summary>Bytes a minute the query log may write (<c>--log-limit</c>); 0 for no limit.</summary>
    public long QueryLogLimit { get; init; } = ProxyConfig.DefaultQueryLogBytesPerMinute;

    /// <summary>The vocabulary of <c>--query-log</c>: dnsw's JSON or Elastic Common Schema.</summary>
    public QueryLogFormat QueryLogFormat { get; init; }

    /// <summary>Both TUNs with IFF_VNET_HDR and offloads (checksum, TSO): fewer, larger packets per system call.</summary>
    public bool VnetHeader { get; init; }

    /// <summary>Also gets every query log entry (the exporter); must not block.</summary>
    public IQueryLog? QueryExport { get; init; }

    /// <summary>Called for every refused packet on the packet threads (the exporter); must not block.</summary>
    public Action<RefusedPacket>? OnRefused { get; init; }

    /// <summary>The virtual DNS service's addresses (<c>--virtual-dns</c>).</summary>
    public IReadOnlyList<IpAddr> VirtualDns { get; init; } = [TunFilterOptions.DefaultVirtualDnsV4, TunFilterOptions.DefaultVirtualDnsV6];

    /// <summary>How often idle flows and expired addresses are forgotten.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// <c>dnsw tun --netns NAME</c>: the TUN packet filter for an existing namespace, in the foreground until SIGINT or
/// SIGTERM (docs/TUN.md). Builds the plumbing (<see cref="TunNetwork"/>), the engine, the filter and the bridge, a
/// TCP DNS listener inside NAME for TCP/53 to the virtual address, and the control socket for <c>--set-mode</c>; at
/// exit removes everything and prints the counters and the refused packets, grouped.
/// </summary>
[SupportedOSPlatform("linux")]
public static class TunRunner
{
    public const string Prefix = "dnsw tun: ";

    public static async Task<int> RunAsync(TunRunOptions options, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stderr);
        string ns = options.Namespace;
        OwnerRecord.SweepOrphans();
        if (TunNetwork.LiveOwner(ns) is int owner)
        {
            throw new InvalidOperationException($"namespace '{ns}' is already served by dnsw tun (pid {owner.ToString(CultureInfo.InvariantCulture)})");
        }

        if (File.Exists(TunNetwork.OwnerFileOf(ns)) && TunNetwork.CleanupStale(ns))
        {
            await stderr.WriteLineAsync($"{Prefix}removed what a dead instance for '{ns}' left").ConfigureAwait(false);
        }

        var filterOptions = new TunFilterOptions { Mode = options.Mode, VirtualDns = options.VirtualDns };
        var metrics = new ResolverMetrics();
        UpstreamPool? pool = EngineParts.Pool(options.Engine);
        DomainForwarder? routes = EngineParts.Routes(options.Engine, pool);
        Stream? logStream = null;
        QueryLogWriter? log = null;
        var refusals = new TunRefusals();
        try
        {
            if (options.QueryLogPath is not null)
            {
                logStream = OutputFile.Open(options.QueryLogPath, options.OutputOwner, append: true);
                log = new QueryLogWriter(logStream, options.Privacy, BaseDomains.Default, metrics, leaveOpen: true, limits: new QueryLogLimits { BytesPerMinute = options.QueryLogLimit }, format: options.QueryLogFormat);
            }

            DnsEngine engine = EngineParts.Engine(options.Engine, pool, routes, new EngineSeams
            {
                // A cache hit is recorded in the tracker again before it is released.
                QueryLog = TeeQueryLog.Of(log, options.QueryExport),
                Rebinding = GuardEngine.Rebinding(),
                Exfiltration = GuardEngine.Scorer(),
                Metrics = metrics,
            });
            return await ServeAsync(options, filterOptions, engine, refusals, stderr).ConfigureAwait(false);
        }
        finally
        {
            if (log is not null)
            {
                await log.DisposeAsync().ConfigureAwait(false);
                // The refused packets close the query log, as the jail's close its --out.
                refusals.WriteJsonLines(logStream!, options.QueryLogFormat);
            }

            if (logStream is not null)
            {
                await logStream.DisposeAsync().ConfigureAwait(false);
            }

            if (routes is not null)
            {
                await routes.DisposeAsync().ConfigureAwait(false);
            }

            if (pool is not null)
            {
                await pool.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<int> ServeAsync(TunRunOptions options, TunFilterOptions filterOptions, DnsEngine engine, TunRefusals refusals, TextWriter stderr)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Stop(PosixSignalContext c)
        {
            c.Cancel = true;
            stopped.TrySetResult();
        }

        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using PosixSignalRegistration hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);

        TunNetwork net = TunNetwork.Create(options.Namespace, filterOptions, options.Mode, options.VnetHeader, Environment.ProcessId);
        TunBridge? bridge = null;
        TcpDnsListener[] listeners = [];
        TunControlServer? control = null;
        Timer? sweep = null;
        TunFilter? filter = null;
        try
        {
            var sink = new TunSink(net.Inside);
            filter = new TunFilter(filterOptions, engine, sink) { Mode = options.Mode };
            filter.Refused += refusals.Record;
            if (options.OnRefused is { } onRefused)
            {
                filter.Refused += onRefused;
            }

            // Made inside the namespace (its loopback is where the nat rule sends TCP/53 for the virtual address).
            // Only the sockets are made there; the listeners (and their threads) live here (docs/DECISIONS.md).
            listeners =
            [
                new TcpDnsListener(engine, new IPEndPoint(IPAddress.Loopback, 53), 256, TimeSpan.FromSeconds(10),
                    await NetworkNamespace.OpenSocketAsync(options.Namespace, AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp).ConfigureAwait(false)),
                new TcpDnsListener(engine, new IPEndPoint(IPAddress.IPv6Loopback, 53), 256, TimeSpan.FromSeconds(10),
                    await NetworkNamespace.OpenSocketAsync(options.Namespace, AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp).ConfigureAwait(false)),
            ];
            foreach (TcpDnsListener l in listeners)
            {
                l.Start();
            }

            bridge = new TunBridge(filter, net.Inside, sink, net.Host);
            bridge.Start();
            TunFilter f = filter;
            sweep = new Timer(_ => Sweep(f, engine), null, options.SweepInterval, options.SweepInterval);
            control = new TunControlServer(net.ControlSocket, line => Control(line, f, net));
            control.Start();
            if (net.ForwardingOpened.Count > 0)
            {
                await stderr.WriteLineAsync($"{Prefix}forwarding turned on for {string.Join(", ", net.ForwardingOpened)} while it runs (only replies to the filtered namespace pass); undone when the last dnsw here ends").ConfigureAwait(false);
            }

            await stderr.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{Prefix}ready: '{options.Namespace}' in {ModeName(options.Mode)} mode through {TunNetwork.InsideInterface}, out through {net.Host.Name}{(net.Inside.HasVnetHeader ? " (virtio headers, offloads on)" : "")}; virtual DNS {string.Join(" and ", filterOptions.VirtualDns)}{(options.Mode == TunFilterMode.Firewall ? ", DNS to any other address answered too" : "")}")).ConfigureAwait(false);
            await stopped.Task.ConfigureAwait(false);
        }
        finally
        {
            if (control is not null)
            {
                await control.DisposeAsync().ConfigureAwait(false);
            }

            if (sweep is not null)
            {
                await sweep.DisposeAsync().ConfigureAwait(false);
            }

            // The TUNs close first: readers return at once and the namespace is closed before the rules go.
            net.Dispose();
            bridge?.Join(TimeSpan.FromSeconds(2));
            await Task.WhenAll(listeners.Select(l => l.DisposeAsync().AsTask())).ConfigureAwait(false);
        }

        await stderr.WriteLineAsync(Summary(filter, bridge, engine.Metrics)).ConfigureAwait(false);
        foreach (string line in refusals.Describe(Prefix))
        {
            await stderr.WriteLineAsync(line).ConfigureAwait(false);
        }

        return 0;
    }

    public static string ModeName(TunFilterMode mode) => mode == TunFilterMode.Firewall ? "firewall" : "dns-only";

    public static bool TryParseMode(string? text, out TunFilterMode mode)
    {
        mode = text == "dns-only" ? TunFilterMode.DnsOnly : TunFilterMode.Firewall;
        return text is "firewall" or "dns-only";
    }

    /// <summary>One control command (see <see cref="TunControlServer"/>).</summary>
    internal static string Control(string line, TunFilter filter, TunNetwork net)
    {
        try
        {
            if (line.StartsWith("mode ", StringComparison.Ordinal))
            {
                if (!TryParseMode(line[5..].Trim(), out TunFilterMode mode))
                {
                    return "error: mode is firewall or dns-only";
                }

                // Toward firewall the filter tightens before every packet is routed to it; toward dns-only the rules
                // go first, so nothing meets a filter that already lets all through while it is still the route.
                if (mode == TunFilterMode.Firewall)
                {
                    filter.Mode = mode;
                    net.SetMode(mode);
                }
                else
                {
                    net.SetMode(mode);
                    filter.Mode = mode;
                }

                return "ok " + ModeName(mode);
            }

            if (line == "status")
            {
                return "ok " + ModeName(net.Mode) + "; " + Counters(filter.Counters);
            }

            return "error: unknown command (mode firewall|dns-only, status)";
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or NotImplementedException)
        {
            return "error: " + e.Message;
        }
    }

    private static void Sweep(TunFilter filter, DnsEngine engine)
    {
        try
        {
            filter.Sweep();
            engine.Sweep();
        }
        catch (NotImplementedException)
        {
        }
    }

    private static string Counters(TunFilterCounters c) => string.Create(CultureInfo.InvariantCulture,
        $"passed out {c.PassedOut}, in {c.PassedIn}; DNS queries {c.DnsQueries}, answers {c.DnsAnswers}; refused unresolved {c.RefusedUnresolved}, QUIC {c.RefusedQuic}, DoT/DoQ {c.RefusedDot}, source-routed {c.RefusedSourceRouted}, no service {c.RefusedNoService}; inbound dropped {c.DroppedInbound}; link-scoped multicast dropped {c.DroppedLinkScoped}; malformed {c.Malformed}; flows {c.FlowsCreated}");

    private static string Summary(TunFilter? filter, TunBridge? bridge, ResolverMetrics m)
    {
        long resolved = m.Count(QueryOutcome.Forwarded) + m.Count(QueryOutcome.Cached) + m.Count(QueryOutcome.Local);
        long blocked = m.Count(QueryOutcome.Blocked) + m.Count(QueryOutcome.BlockedExfiltration);
        string packets = filter is null ? "no filter" : Counters(filter.Counters);
        return string.Create(CultureInfo.InvariantCulture,
            $"{Prefix}{packets}; DNS resolved {resolved}, blocked {blocked}; filter errors {bridge?.FilterErrors ?? 0}, write errors {bridge?.WriteErrors ?? 0}");
    }
}
