using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using DnsWarden.Indicators;
using DnsWarden.Policy;
using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Clients;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Listeners;
using DnsWarden.Resolver.Logging;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Resolver.Upstreams;

namespace DnsWarden.Resolver.Hosting;

/// <summary>
/// One running resolver built from a <see cref="ProxyConfig"/>: upstream pool, cache, IP tracker, exfiltration scorer,
/// query log, engine, UDP and TCP listeners on every listen address, the metrics endpoint and a sweeper. It is
/// <c>dnsw proxy</c>, and the jail's stub with a different configuration.
/// </summary>
public sealed class ResolverHost : IAsyncDisposable
{
    /// <summary>How often expired cache entries and tracked addresses are dropped.</summary>
    private static readonly TimeSpan s_sweepInterval = TimeSpan.FromSeconds(5);

    private readonly List<UdpDnsListener> _udp = [];
    private readonly List<TcpDnsListener> _tcp = [];
    private readonly UpstreamPool? _pool;
    private DomainForwarder? _routes;
    private readonly QueryLogWriter? _log;
    private readonly Stream? _logStream;
    private readonly MetricsEndpoint? _metricsEndpoint;
    private readonly CancellationTokenSource _stop = new();
    private readonly IPEndPoint? _metricsListen;
    private Task? _sweeper;
    private bool _stopped;

    private ResolverHost(ProxyConfig config, UpstreamPool? pool, DnsEngine engine, QueryLogWriter? log, Stream? logStream, MetricsEndpoint? metrics)
    {
        Config = config;
        _pool = pool;
        Engine = engine;
        _log = log;
        _logStream = logStream;
        _metricsEndpoint = metrics;
        _metricsListen = config.MetricsListen;
    }

    public ProxyConfig Config { get; private set; }

    public DnsEngine Engine { get; }

    public IReadOnlyList<IDnsUpstream> Upstreams => _pool?.Upstreams ?? [];

    public UpstreamPool? Pool => _pool;

    /// <summary>The bound UDP addresses (real ports when 0 was asked for).</summary>
    public IReadOnlyList<IPEndPoint> UdpEndPoints => [.. _udp.Select(l => l.LocalEndPoint)];

    public IReadOnlyList<IPEndPoint> TcpEndPoints => [.. _tcp.Select(l => l.LocalEndPoint)];

    public IPEndPoint? MetricsEndPoint => _metricsEndpoint?.LocalEndpoint;

    /// <summary>The clients the listeners answer (the configuration's <c>allow_clients</c>, or the default made from the listening addresses).</summary>
    public IReadOnlyList<IPNetwork> AllowedClients { get; private set; } = [];

    /// <summary>
    /// Builds everything the configuration names. Throws <see cref="ArgumentException"/> for a configuration that
    /// cannot run (named in the message) and <see cref="System.Net.Sockets.SocketException"/> when an address cannot
    /// be bound; nothing is left open on failure.
    /// </summary>
    /// <param name="hooks">What others add: a second query log (the exporter's) and metric families.</param>
    /// <param name="hostAddresses">
    /// The addresses of the host (the namespace the proxy runs in) with their prefix lengths, read once by the caller:
    /// the default allow list takes each listening address's subnet from them, and rebinding protection refuses answers
    /// naming any of them. Null: the listening addresses alone.
    /// </param>
    public static ResolverHost Create(ProxyConfig config, TextWriter? standardOutput = null, BaseDomains? baseDomains = null, TimeProvider? time = null, ResolverHostHooks? hooks = null, IReadOnlyList<InterfaceAddress>? hostAddresses = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        IReadOnlyList<string> problems = config.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems), nameof(config));
        }

        time ??= TimeProvider.System;
        baseDomains ??= BaseDomains.Default;
        hostAddresses ??= [];
        var logLimits = new QueryLogLimits { BytesPerMinute = config.QueryLogBytesPerMinute };
        QueryLogFormat logFormat = config.QueryLogFormat == "ecs" ? QueryLogFormat.Ecs : QueryLogFormat.Json;
        var metrics = new ResolverMetrics();
        UpstreamPool? pool = null;
        DomainForwarder? routes = null;
        Stream? logStream = null;
        QueryLogWriter? log = null;
        try
        {
            if (config.Upstreams.Count > 0)
            {
                var upstreams = new List<IDnsUpstream>(config.Upstreams.Count);
                foreach (UpstreamConfig u in config.Upstreams)
                {
                    upstreams.Add(UpstreamFactory.Create(u, config.UpstreamTimeout));
                }

                pool = new UpstreamPool(upstreams, config.Strategy, config.UpstreamTimeout, time);
            }

            routes = EngineParts.Routes(config, pool, time);

            if (config.QueryLogPath is { } path)
            {
                PrivacyRedactor.TryParse(config.QueryLogPrivacy, out PrivacyMode privacy);
                if (path == "-")
                {
                    log = new QueryLogWriter(standardOutput ?? Console.Out, privacy, baseDomains, metrics, leaveOpen: true, limits: logLimits, time: time, format: logFormat);
                }
                else
                {
                    // Opened again by name on SIGHUP (ReopenQueryLogAsync), after logrotate renamed it.
                    logStream = new ReopenableStream(() => hooks?.OpenLogFile?.Invoke(path)
                        ?? new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, 64 * 1024, FileOptions.Asynchronous));
                    log = new QueryLogWriter(logStream, privacy, baseDomains, metrics, leaveOpen: true, limits: logLimits, time: time, format: logFormat);
                }
            }

            DnsCache? cache = EngineParts.Cache(config);
            var tracker = new IpTracker(new IpTrackerOptions
            {
                MinTtl = config.TrackerMinTtl,
                MaxTtl = config.TrackerMaxTtl,
                FixedTtl = config.TrackerFixedTtl,
                MaxAddressesPerName = config.TrackerMaxAddressesPerName,
            });

            // Scoring costs a name string and a lock per query: done when something reads the score.
            ExfiltrationScorer? scorer = config.Policy.Exfiltration.BlockScore is not null || log is not null || hooks?.QueryLog is not null
                ? new ExfiltrationScorer(baseDomains: baseDomains, time: time)
                : null;

            var engine = new DnsEngine(new DnsEngineOptions
            {
                Policy = config.Policy,
                DefaultSinkholeV4 = ResolverPolicy.ProxySinkholeV4,
                Forwarder = (IDnsForwarder?)routes ?? (pool is null ? null : new PoolForwarder(pool)),
                Cache = cache,
                Tracker = tracker,
                Exfiltration = scorer,
                QueryLog = TeeQueryLog.Of(log, hooks?.QueryLog),
                Rebinding = config.RebindProtection
                    ? new RebindingGuard([.. hostAddresses.Select(a => a.Address), .. config.Listen.Select(e => e.Address)])
                    : null,
                MaxForwardsInFlight = config.InFlightTotal,
                Metrics = metrics,
                Time = time,
            });

            IReadOnlyList<IPNetwork> allowed = config.AllowClients ?? ClientAllowList.DefaultFor(config.Listen.Select(e => e.Address), hostAddresses);
            var listenerOptions = new ListenerOptions
            {
                AllowList = new ClientAllowList(allowed),
                RateLimit = config.RateLimitResponsesPerSecond > 0
                    ? new ResponseRateLimiter(config.RateLimitResponsesPerSecond, config.RateLimitSlip, config.RateLimitV4Prefix, config.RateLimitV6Prefix, time)
                    : null,
                MaxForwardsInFlight = config.InFlightPerListener,
                MaxConnectionsPerClient = config.MaxTcpConnectionsPerClient,
            };

            MetricsEndpoint? endpoint = null;
            if (config.MetricsListen is not null)
            {
                UpstreamPool? p = pool;
                DomainForwarder? r = routes;
                endpoint = new MetricsEndpoint(new MetricsSnapshotSource(
                    metrics,
                    cache is null ? null : () => cache.GetStatistics(),
                    () => tracker.Count,
                    () => [.. p?.Upstreams ?? [], .. r?.RouteUpstreams ?? []],
                    p is null && r is null ? null : u => (p?.Health ?? []).Concat(r?.RouteHealth ?? []).FirstOrDefault(h => h.Url == u.Config.Url)?.Up ?? true,
                    hooks?.Metrics));
            }

            var host = new ResolverHost(config, pool, engine, log, logStream, endpoint) { AllowedClients = allowed, _routes = routes };
            pool = null;
            routes = null;
            log = null;
            logStream = null;
            try
            {
                foreach (IPEndPoint ep in config.Listen)
                {
                    var udp = new UdpDnsListener(engine, ep, options: listenerOptions);
                    host._udp.Add(udp);

                    // TCP on the port UDP got (they differ only when port 0 asked the kernel for one).
                    host._tcp.Add(new TcpDnsListener(engine, new IPEndPoint(ep.Address, udp.LocalEndPoint.Port), config.MaxTcpConnections, config.TcpIdleTimeout, options: listenerOptions));
                }

                if (config.DotListen.Count > 0)
                {
                    ListenerOptions dot = listenerOptions with { TlsCertificate = TlsCertificate(config) };
                    foreach (IPEndPoint ep in config.DotListen)
                    {
                        host._tcp.Add(new TcpDnsListener(engine, ep, config.MaxTcpConnections, config.TcpIdleTimeout, options: dot));
                    }
                }
            }
            catch
            {
                host.DisposeAsync().AsTask().GetAwaiter().GetResult();
                throw;
            }

            return host;
        }
        catch (Exception) when (Release(pool, routes, log, logStream))
        {
            throw; // Not reached: Release returns false so the original exception flies on untouched.
        }
    }

    // Closes what Create built before the host owned it; false keeps the exception filter from catching.
    /// <summary>The DoT listeners' certificate with its key, read from the PEM files; a one-line error when they are unusable.</summary>
    private static X509Certificate2 TlsCertificate(ProxyConfig config)
    {
        try
        {
            X509Certificate2 certificate = X509Certificate2.CreateFromPemFile(config.TlsCertificateFile!, config.TlsKeyFile);
            return certificate.HasPrivateKey
                ? certificate
                : throw new ArgumentException($"dot: {config.TlsKeyFile} holds no key for {config.TlsCertificateFile}");
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"dot: cannot use the certificate {config.TlsCertificateFile} with the key {config.TlsKeyFile}: {e.Message}", e);
        }
    }

    private static bool Release(UpstreamPool? pool, DomainForwarder? routes, QueryLogWriter? log, Stream? logStream)
    {
        pool?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        routes?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        log?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        logStream?.Dispose();
        return false;
    }

    /// <summary>Starts serving: listeners, the metrics endpoint and the sweeper.</summary>
    public async Task StartAsync()
    {
        foreach (UdpDnsListener l in _udp)
        {
            l.Start();
        }

        foreach (TcpDnsListener l in _tcp)
        {
            l.Start();
        }

        if (_metricsEndpoint is not null && _metricsListen is not null)
        {
            await _metricsEndpoint.StartAsync(_metricsListen).ConfigureAwait(false);
        }

        _sweeper = Task.Run(SweepLoopAsync);
    }

    /// <summary>Applies a new policy (SIGHUP): queries in flight finish under the old one, the next is decided by the new.</summary>
    /// <summary>
    /// Opens the query log file again by its name (after logrotate renamed it); null when done or when the log is not
    /// a file, else why not (the old file stays in use).
    /// </summary>
    public async Task<string?> ReopenQueryLogAsync()
    {
        if (_logStream is not ReopenableStream file)
        {
            return null;
        }

        try
        {
            await file.ReopenAsync().ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    /// <summary>Whether the query log is a file that <see cref="ReopenQueryLogAsync"/> opens again.</summary>
    public bool QueryLogIsFile => _logStream is ReopenableStream;

    public void Reload(ResolverPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        Engine.Reload(policy);
        Config = Config with { Policy = policy };
    }

    /// <summary>Stops reading queries, answers those already read (up to <paramref name="drain"/>), then closes everything.</summary>
    public async Task StopAsync(TimeSpan drain)
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_udp.Select(l => l.StopAsync(drain)).Concat(_tcp.Select(l => l.StopAsync(drain)))).ConfigureAwait(false);
        if (_sweeper is not null)
        {
            await _sweeper.ConfigureAwait(false);
        }

        if (_metricsEndpoint is not null)
        {
            await _metricsEndpoint.DisposeAsync().ConfigureAwait(false);
        }

        if (_pool is not null)
        {
            await _pool.DisposeAsync().ConfigureAwait(false);
        }

        if (_routes is not null)
        {
            await _routes.DisposeAsync().ConfigureAwait(false);
        }

        if (_log is not null)
        {
            await _log.DisposeAsync().ConfigureAwait(false);
        }

        if (_logStream is not null)
        {
            await _logStream.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        foreach (UdpDnsListener l in _udp)
        {
            await l.DisposeAsync().ConfigureAwait(false);
        }

        foreach (TcpDnsListener l in _tcp)
        {
            await l.DisposeAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private async Task SweepLoopAsync()
    {
        using var timer = new PeriodicTimer(s_sweepInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                Engine.Sweep();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
