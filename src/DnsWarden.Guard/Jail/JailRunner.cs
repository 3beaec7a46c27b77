using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Guard.Jail.Interception;
using DnsWarden.Guard.Jail.Report;
using DnsWarden.Indicators;
using DnsWarden.Platform;
using DnsWarden.Platform.Enforcement;
using DnsWarden.Platform.Users;
using DnsWarden.Policy;
using DnsWarden.Policy.Http;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Hosting;
using DnsWarden.Resolver.Listeners;
using DnsWarden.Resolver.Logging;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Guard.Jail;

/// <summary>sinkhole: every A is 6.6.6.6 and every AAAA ::, nothing resolved. policy: the resolver policy decides, allowed names are resolved upstream.</summary>
public enum JailMode
{
    Sinkhole,
    Policy,
}

/// <summary>What <c>dnsw jail</c> was asked to do.</summary>
public sealed record JailOptions
{
    public JailMode Mode { get; init; } = JailMode.Sinkhole;

    /// <summary>The stub's engine: upstreams, strategy and timeout, cache, tracker, policy (<c>--config</c>, <see cref="GuardEngine.Defaults"/>).</summary>
    public ProxyConfig Engine { get; init; } = GuardEngine.Defaults;

    /// <summary>Host rules (<c>--allow</c>, the policy's http section): when active, every TCP connection goes to the host proxy.</summary>
    public HostRules Hosts { get; init; } = HostRules.None;

    /// <summary>Who the command runs as: never uid 0 or gid 0 (<see cref="JailRunner.RunAsync"/> refuses).</summary>
    public required UserAccount User { get; init; }

    /// <summary>Whose file <see cref="OutPath"/> is: it is opened with that user's credentials (null: as this process).</summary>
    public UserAccount? OutputOwner { get; init; }

    public required IReadOnlyList<string> Command { get; init; }

    /// <summary>Every query as a JSON line (the resolver's query log), with <see cref="Privacy"/>.</summary>
    public string? OutPath { get; init; }

    public PrivacyMode Privacy { get; init; } = PrivacyMode.Redacted;

    /// <summary>Directories the command may write beneath (Landlock); everything else it can only read.</summary>
    public IReadOnlyList<string> Writable { get; init; } = [];

    /// <summary>How to start this program again as the jail's init (its path, and for a framework build the assembly).</summary>
    public required IReadOnlyList<string> InitCommand { get; init; }

    /// <summary>Also gets every query log entry (the exporter); must not block.</summary>
    public IQueryLog? QueryExport { get; init; }

    /// <summary>Called for every refused packet as NFLOG reports it (the exporter), on the reader's thread; must not block.</summary>
    public Action<BlockedAttempt>? OnRefused { get; init; }

    /// <summary>Bytes a minute the query log may write (<c>--log-limit</c>); 0 for no limit.</summary>
    public long LogLimit { get; init; } = ProxyConfig.DefaultQueryLogBytesPerMinute;

    /// <summary>The vocabulary of <c>--out</c>: dnsw's JSON or Elastic Common Schema.</summary>
    public QueryLogFormat LogFormat { get; init; }

    /// <summary>Called for every decision of the host proxy; must not block.</summary>
    public Action<ProxyRequest>? OnProxyRequest { get; init; }

    /// <summary>Every decision of the host proxy as a line (<c>--request-log</c>), with <see cref="Privacy"/>.</summary>
    public string? RequestLogPath { get; init; }

    public RequestLogFormat RequestLogFormat { get; init; }

    /// <summary><c>--intercept</c>: the proxy terminates TLS with certificates from this CA, which the command is given to trust.</summary>
    public InterceptionSettings? Interception { get; init; }

    /// <summary>Given what the run did once the command has exited (<c>--report</c>); null to keep no tally.</summary>
    public Action<JailReport>? OnReport { get; init; }
}

/// <summary>
/// <c>dnsw jail -- CMD</c>: a network namespace for CMD where every DNS query lands on our stub and egress reaches
/// only what the stub answered (docs/JAIL.md). Returns CMD's exit status (128 + signal when a signal ended it).
/// Everything made is removed on the way out; a jail killed with SIGKILL is removed by the next run.
/// </summary>
[SupportedOSPlatform("linux")]
public static class JailRunner
{
    /// <summary>The status of a run whose keeper died: the jail's own failure (125, as <c>env</c> and <c>timeout</c> use it).</summary>
    public const int KeeperLost = 125;

    public static async Task<int> RunAsync(JailOptions options, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stderr);
        if (options.User.IsRoot)
        {
            throw new InvalidOperationException($"the command may not run as uid 0 or gid 0 (user {options.User.Name}, {options.User.Uid}:{options.User.Gid}): root in the jail could undo it");
        }

        // The user's file, in a directory the jailed command may be able to write: opened as that user, never through a
        // link, and before anything is built so a refusal leaves nothing to undo.
        await using Stream? outStream = options.OutPath is null ? null : OutputFile.Open(options.OutPath, options.OutputOwner, append: true);
        await using Stream? requestStream = options.RequestLogPath is null ? null : OutputFile.Open(options.RequestLogPath, options.OutputOwner, append: true);

        DateTimeOffset started = DateTimeOffset.UtcNow;

        // The public suffix list (~20 ms to read) is needed by the first query, not by the set-up: read it meanwhile.
        _ = Task.Run(() => BaseDomains.Default);
        foreach (string stale in JailNetwork.CleanupStale())
        {
            await stderr.WriteLineAsync($"dnsw jail: removed what a dead jail ({stale}) left").ConfigureAwait(false);
        }

        using JailNetwork net = JailNetwork.Create(Environment.ProcessId, options.Hosts.Active ? HostProxy.Port : null);

        // The CA (and the system roots) as files the command trusts; removed however the jail ends (docs/JAIL.md).
        JailTrustFiles? trust = options.Interception is null ? null : JailTrustFiles.Write(net.Id, options.Interception.Ca.CertificatePem);
        bool handedOver = false;
        if (net.ForwardingOpened.Count > 0)
        {
            await stderr.WriteLineAsync($"dnsw jail: forwarding turned on for {string.Join(", ", net.ForwardingOpened)} while jails run (only replies to the jails pass); undone when the last one ends").ConfigureAwait(false);
        }
        var metrics = new ResolverMetrics();
        UpstreamPool? pool = null;
        DomainForwarder? routes = null;
        QueryLogWriter? log = outStream is null ? null : new QueryLogWriter(outStream, options.Privacy, BaseDomains.Default, metrics, leaveOpen: true, limits: new QueryLogLimits { BytesPerMinute = options.LogLimit }, format: options.LogFormat);
        JailQueryTally? tally = options.OnReport is null ? null : new JailQueryTally(log, options.Privacy, BaseDomains.Default);

        // Everything below that needs root once this process has dropped goes through the keeper (docs/JAIL.md,
        // "Privilege separation"); disposing it ends the channel, and the keeper then kills and removes the jail.
        using var keeper = new KeeperClient();
        var gate = new NftAddressGate(keeper, options.Engine.TrackerMinTtl, hosts: options.Hosts);
        BlockedAttempts? blocked = null;
        HostProxy? proxy = null;
        try
        {
            blocked = new BlockedAttempts(net.Namespace, options.OnRefused);
        }
        catch (IOException e)
        {
            // Refused packets are still refused and counted; only the per-attempt detail is missing.
            await stderr.WriteLineAsync($"dnsw jail: no per-attempt log of refused packets: {e.Message}").ConfigureAwait(false);
        }
        (UdpDnsListener Udp, TcpDnsListener Tcp)[] listeners = [];
        try
        {
            // Sinkhole mode resolves nothing, so it has no upstreams whatever the configuration names; host rules resolve
            // the names they allow (and the proxy's own lookups) through the configuration's upstreams.
            ResolverPolicy policy = StubPolicy(options);
            ProxyConfig config = options.Mode == JailMode.Policy || options.Hosts.Active
                ? options.Engine with { Policy = policy }
                : options.Engine with { Policy = policy, Upstreams = [], DomainUpstreams = [] };
            pool = EngineParts.Pool(config);
            routes = EngineParts.Routes(config, pool);
            DnsEngine engine = EngineParts.Engine(config, pool, routes, new EngineSeams
            {
                QueryLog = TeeQueryLog.Of((IQueryLog?)tally ?? log, options.QueryExport),

                // A cache hit is recorded and let through the gate again before it is released.
                AnswerObserver = gate,
                Rebinding = GuardEngine.Rebinding(IPAddress.Parse(net.JailV4), IPAddress.Parse(net.JailV6)),
                Exfiltration = GuardEngine.Scorer(),
                Metrics = metrics,
            });

            // The stub's sockets are made inside the jail (its loopback); its threads and upstream sockets stay here.
            listeners =
            [
                await StubAsync(engine, net.Namespace, IPAddress.Loopback).ConfigureAwait(false),
                await StubAsync(engine, net.Namespace, IPAddress.IPv6Loopback).ConfigureAwait(false),
            ];

            if (options.Hosts.Active)
            {
                // Host rules: the proxy's listeners are on the jail's loopback, its upstream sockets here (docs/JAIL.md).
                RequestLog? requests = requestStream is null ? null : new RequestLog(requestStream, options.RequestLogFormat, options.Privacy, BaseDomains.Default);
                Action<ProxyRequest>? onRequest = requests is null ? options.OnProxyRequest : r =>
                {
                    requests.Write(r);
                    options.OnProxyRequest?.Invoke(r);
                };
                proxy = new HostProxy(options.Hosts, new HostResolver((IDnsForwarder?)routes ?? new PoolForwarder(pool ?? throw new InvalidOperationException("host rules need --upstream"))), stderr, onRequest, interception: options.Interception);
                await proxy.OpenAsync(net.Namespace).ConfigureAwait(false);
            }

            // The command starts as root (ip netns exec needs it); what it sends waits, unread, in the sockets above.
            using WatchPipe watch = WatchPipe.Create();
            InheritedDescriptors.CloseOnExecExcept(watch.ReadEnd);
            using Process child = StartCommand(net, options, trust?.Directory, watch);
            keeper.Start(options.InitCommand, net.Id, child.Id, options.Hosts.Active);
            net.HandOver();
            handedOver = true;
            PrivilegeDrop.To(PrivilegeDrop.Nobody, PrivilegeDrop.Nobody);

            // From here on nothing in this process is root: only now are the jail's bytes read.
            foreach ((UdpDnsListener udp, TcpDnsListener tcp) in listeners)
            {
                udp.Start();
                tcp.Start();
            }

            proxy?.Start();
            blocked?.Start();
            int? exited;
            try
            {
                exited = await WaitAsync(child, keeper).ConfigureAwait(false);
            }
            finally
            {
                await Task.WhenAll(listeners.SelectMany(l => new[] { l.Udp.DisposeAsync().AsTask(), l.Tcp.DisposeAsync().AsTask() })).ConfigureAwait(false);
                listeners = [];
                if (proxy is not null)
                {
                    await proxy.DisposeAsync().ConfigureAwait(false);
                }
            }
            if (exited is not int status)
            {
                await stderr.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"dnsw jail: the jail's keeper (pid {keeper.Pid}) ended while the command ran; nothing more can be opened, so the command is stopped (dnsw jail --cleanup removes the jail)")).ConfigureAwait(false);
                return KeeperLost;
            }

            await stderr.WriteLineAsync(Summary(metrics, keeper.Counters())).ConfigureAwait(false);
            if (proxy is not null)
            {
                await stderr.WriteLineAsync(ProxySummary(proxy)).ConfigureAwait(false);
            }

            if (gate.Held.Describe() is string held)
            {
                await stderr.WriteLineAsync("dnsw jail: " + held).ConfigureAwait(false);
            }

            blocked?.Finish();
            foreach (string line in Describe(blocked?.Snapshot() ?? []))
            {
                await stderr.WriteLineAsync(line).ConfigureAwait(false);
            }

            options.OnReport?.Invoke(JailReport.From(options, started, status, metrics, tally, blocked));

            if (log is not null)
            {
                await log.DisposeAsync().ConfigureAwait(false);
                log = null;
                blocked?.WriteJsonLines(outStream!, options.LogFormat);
            }
            return status;
        }
        finally
        {
            // A failure before the command ran: the listeners were never started.
            await Task.WhenAll(listeners.SelectMany(l => new[] { l.Udp.DisposeAsync().AsTask(), l.Tcp.DisposeAsync().AsTask() })).ConfigureAwait(false);
            blocked?.Dispose();
            if (!handedOver)
            {
                trust?.Dispose();
            }

            if (routes is not null)
            {
                await routes.DisposeAsync().ConfigureAwait(false);
            }

            if (pool is not null)
            {
                await pool.DisposeAsync().ConfigureAwait(false);
            }

            if (log is not null)
            {
                await log.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// What the stub answers. Sinkhole mode with host rules: the names the rules mention resolve (through the upstreams,
    /// their addresses gated as in policy mode), every other name gets the sinkhole — a denied host never causes an
    /// upstream lookup; observe mode resolves everything. Policy mode: the policy, rules or not.
    /// </summary>
    private static ResolverPolicy StubPolicy(JailOptions options)
    {
        if (options.Mode == JailMode.Policy)
        {
            return options.Engine.Policy;
        }

        if (options.Hosts.Observe)
        {
            return new ResolverPolicy { Source = "jail: observe" };
        }

        return options.Hosts.Active
            ? new ResolverPolicy { Allow = options.Hosts.Names, DefaultAction = ResolverDefaultAction.Block, BlockAction = ResolverBlockAction.Sinkhole, Source = "jail: host rules" }
            : new ResolverPolicy { Mode = ResolverMode.SinkholeAll, Source = "jail: sinkhole mode" };
    }

    private static async Task<(UdpDnsListener Udp, TcpDnsListener Tcp)> StubAsync(DnsEngine engine, string netns, IPAddress address)
    {
        var endpoint = new IPEndPoint(address, 53);
        Socket udp = await NetworkNamespace.OpenSocketAsync(netns, address.AddressFamily, SocketType.Dgram, ProtocolType.Udp).ConfigureAwait(false);
        Socket tcp = await NetworkNamespace.OpenSocketAsync(netns, address.AddressFamily, SocketType.Stream, ProtocolType.Tcp).ConfigureAwait(false);
        return (new UdpDnsListener(engine, endpoint, socket: udp), new TcpDnsListener(engine, endpoint, 256, TimeSpan.FromSeconds(10), tcp));
    }

    /// <summary>
    /// Starts the command under the jail's init (<see cref="JailInit"/>): `ip netns exec` enters the jail's network
    /// namespace and a mount namespace of its own (with /sys showing the jail's interfaces); `unshare` makes a PID
    /// namespace (and a mount namespace for its /proc) whose pid 1 is dnsw's init, which makes the private mounts,
    /// takes on Landlock and starts the command as the user. The watch pipe ends all of it if this process dies.
    /// </summary>
    private static Process StartCommand(JailNetwork net, JailOptions options, string? trustDirectory, WatchPipe watch)
    {
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false };
        IEnumerable<string> args =
        [
            "netns", "exec", net.Namespace, "unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--",
            .. options.InitCommand, "jail-init",
            "--uid", options.User.Uid.ToString(CultureInfo.InvariantCulture), "--gid", options.User.Gid.ToString(CultureInfo.InvariantCulture),
            "--user-name", options.User.Name, "--home", options.User.Home, "--shell", options.User.Shell,
            "--watch-fd", watch.ReadEnd.ToString(CultureInfo.InvariantCulture),
            .. options.Writable.SelectMany(w => new[] { "--writable", w }),
            .. trustDirectory is null ? [] : new[] { "--trust-dir", trustDirectory },
            "--", .. options.Command,
        ];
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        Process child = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the command");
        watch.CloseReadEnd();
        return child;
    }

    /// <summary>
    /// Waits for the command, passing SIGTERM, SIGINT and SIGHUP on to the jail's init through the keeper (unshare
    /// passes none on; the init passes them to the command). The keeper ending first fails the run (125): nothing can
    /// open any more, and this process's end ends the watch pipe, so the init kills the command. Null then.
    /// </summary>
    private static async Task<int?> WaitAsync(Process child, KeeperClient keeper)
    {
        void Forward(PosixSignalContext c)
        {
            c.Cancel = true;
            _ = keeper.Signal(c.Signal switch
            {
                PosixSignal.SIGINT => 2,
                PosixSignal.SIGHUP => 1,
                _ => 15,
            });
        }

        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Forward);
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Forward);
        using PosixSignalRegistration hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Forward);
        Task exited = child.WaitForExitAsync();
        return await Task.WhenAny(exited, keeper.Ended).ConfigureAwait(false) == exited ? child.ExitCode : null;
    }

    private static string Summary(ResolverMetrics m, string counters)
    {
        long resolved = m.Count(QueryOutcome.Forwarded) + m.Count(QueryOutcome.Cached) + m.Count(QueryOutcome.Local);
        long sinkholed = m.Count(QueryOutcome.Sinkholed);
        long blocked = m.Count(QueryOutcome.Blocked) + m.Count(QueryOutcome.BlockedExfiltration);
        return string.Create(CultureInfo.InvariantCulture,
            $"dnsw jail: DNS queries resolved {resolved}, sinkholed {sinkholed}, blocked {blocked}, exfiltration-blocked {m.Count(QueryOutcome.BlockedExfiltration)}; refused packets: DoT {Packets(counters, "refused_dot")}, QUIC {Packets(counters, "refused_quic")}, unresolved destinations {Packets(counters, "refused_unresolved")}, multicast {Packets(counters, "refused_multicast")}, routing headers and IP options {Sum(counters, "refused_routing", "refused_ipoptions")}; inbound connections refused {Packets(counters, "refused_inbound")}");
    }

    /// <summary>The host proxy's totals and its most refused hosts (at most 10).</summary>
    private static string ProxySummary(HostProxy proxy)
    {
        IReadOnlyList<(string Host, int Count)> top = proxy.TopDenied(10);
        string denied = top.Count == 0 ? "" : "; top refused: " + string.Join(", ", top.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Host} ×{t.Count}")));
        return string.Create(CultureInfo.InvariantCulture, $"dnsw jail: host proxy: allowed {proxy.Allowed}, refused {proxy.Denied}{denied}");
    }

    /// <summary>Refused attempts grouped by kind, protocol and destination, most frequent first (at most 20 lines).</summary>
    private static IEnumerable<string> Describe(IReadOnlyList<BlockedAttempt> attempts) =>
        attempts
            .GroupBy(a => (a.Kind, a.Protocol, a.Destination, a.Port, a.Source))
            .OrderByDescending(g => g.Count())
            .Take(20)
            .Select(g => RefusalText.Line("dnsw jail: ", g.Key.Kind, g.Key.Protocol, g.Key.Destination, g.Key.Port, g.Count(), g.Key.Source));

    private static string Sum(string listing, string first, string second) =>
        long.TryParse(Packets(listing, first), NumberStyles.None, CultureInfo.InvariantCulture, out long a)
        && long.TryParse(Packets(listing, second), NumberStyles.None, CultureInfo.InvariantCulture, out long b)
            ? (a + b).ToString(CultureInfo.InvariantCulture)
            : "?";

    private static string Packets(string listing, string counter)
    {
        int at = listing.IndexOf("counter " + counter + " ", StringComparison.Ordinal);
        if (at < 0)
        {
            return "?";
        }

        int p = listing.IndexOf("packets ", at, StringComparison.Ordinal);
        if (p < 0)
        {
            return "?";
        }

        p += "packets ".Length;
        int end = p;
        while (end < listing.Length && char.IsAsciiDigit(listing[end]))
        {
            end++;
        }

        return listing[p..end];
    }
}
