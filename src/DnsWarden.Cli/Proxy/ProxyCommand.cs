using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using DnsWarden.Cli.Export;
using DnsWarden.Export;
using DnsWarden.Guard;
using DnsWarden.Indicators;
using DnsWarden.Platform.Service;
using DnsWarden.Policy;
using DnsWarden.Resolver.Clients;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Hosting;
using DnsWarden.Resolver.Listeners;

namespace DnsWarden.Cli.Proxy;

/// <summary>
/// <c>dnsw proxy</c>: the DNS engine as a standalone forwarder — listeners, upstreams with failover, cache, policy,
/// IP tracker, query log and metrics (docs/RESOLVER.md). SIGHUP rereads the policy and reopens the query log file,
/// SIGTERM/SIGINT drain and stop.
/// </summary>
internal static class ProxyCommand
{
    private static readonly TimeSpan s_drain = TimeSpan.FromSeconds(5);

    public static Command Build()
    {
        var config = new Option<FileInfo?>("--config") { Description = $"Read the configuration from this JSON file (docs/RESOLVER.md, \"Configuration\"; default {DefaultConfigPath} when it exists); flags given as well override it." };
        var check = new Option<bool>("--check") { Description = "Check the configuration (file and flags) and say what would run, then exit: 0 when it is valid, 3 when not." };
        Option<string[]> listen = EndPoints("--listen", "Answer on this IP:PORT over UDP and TCP (repeatable; IPv6 as [::1]:53; default 127.0.0.1:53 and [::1]:53).");
        Option<string[]> upstream = UpstreamOption.Create("Forward to this upstream (repeatable, in order of preference): udp://IP[:PORT], tcp://…, tls://NAME@IP[:PORT], https://NAME@IP[:PORT]/dns-query.");
        Option<string[]> upstreamFor = UpstreamOption.CreateFor();
        Option<string[]> dotListen = EndPoints("--dot-listen", "Also answer DNS over TLS (RFC 7858) on this IP:PORT (repeatable, e.g. 127.0.0.1:853), with --tls-cert and --tls-key.");
        var tlsCert = new Option<FileInfo?>("--tls-cert") { Description = "The PEM certificate chain (leaf first) the DoT listeners present." };
        var tlsKey = new Option<FileInfo?>("--tls-key") { Description = "The PEM private key of --tls-cert." };
        var policy = new Option<FileInfo?>("--policy") { Description = "Read the resolver policy from this file (allow/block lists, local records, sinkhole; docs/RESOLVER.md). Reread on SIGHUP." };
        var strategy = new Option<string?>("--strategy") { Description = "failover (default): the healthiest upstream first; race: the two fastest at once." };
        strategy.AcceptOnlyFromAmong("failover", "race");
        var timeout = new Option<string?>("--timeout") { Description = "Time one upstream attempt may take, e.g. 2s, 500ms." };
        timeout.Validators.Add(r =>
        {
            string? text = r.GetValueOrDefault<string?>();
            if (text is not null && (!PolicyDuration.TryParse(text, out TimeSpan t) || t <= TimeSpan.Zero))
            {
                r.AddError($"--timeout: '{text}' is not a positive duration (e.g. 2s, 500ms)");
            }
        });
        var noCache = new Option<bool>("--no-cache") { Description = "Forward every query; answer nothing from memory." };
        var cacheEntries = new Option<int?>("--cache-entries") { Description = "Most answers the cache keeps (default 10000)." };
        cacheEntries.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int n && n < 1)
            {
                r.AddError("--cache-entries: must be at least 1");
            }
        });
        var queryLog = new Option<string?>("--query-log") { Description = "Append every query as a JSON line to this file ('-' for standard output; --log-format)." };
        Option<string?> privacy = PrivacyOption.Create("What the query log keeps", defaulted: false);
        var metrics = new Option<string?>("--metrics") { Description = "Serve Prometheus/OpenMetrics on http://IP:PORT/metrics." };
        metrics.Validators.Add(r =>
        {
            string? text = r.GetValueOrDefault<string?>();
            if (text is not null && !ProxyConfig.TryParseEndPoint(text, out _, out string? error))
            {
                r.AddError($"--metrics: {error}");
            }
        });

        var export = new ExportOptions("proxy");
        var allowClient = new Option<string[]>("--allow-client")
        {
            Description = "Answer clients in this network, e.g. 10.0.0.0/8 (repeatable; replaces the default: loopback and the listening addresses' own subnets).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        allowClient.Validators.Add(r =>
        {
            foreach (string s in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!ProxyConfig.TryParseNetwork(s, out _, out string? error))
                {
                    r.AddError($"--allow-client: {error}");
                }
            }
        });
        Option<string?> logLimit = LogLimitOption.Create("--query-log");
        Option<string?> logFormat = LogFormatOption.Create("--query-log");

        var command = new Command("proxy", "Run the DNS engine as a forwarder: policy, cache, encrypted upstreams with failover, IP tracker, query log, metrics.")
        {
            config, check, listen, dotListen, tlsCert, tlsKey, upstream, upstreamFor, policy, strategy, timeout, noCache, cacheEntries, queryLog, privacy, metrics, allowClient, logLimit, logFormat,
        };
        export.AddTo(command);
        command.SetAction((parse, cancel) => RunAsync(
            new ProxyFlags(
                parse.GetValue(config) ?? DefaultConfig(),
                parse.GetValue(listen) ?? [],
                parse.GetValue(upstream) ?? [],
                parse.GetValue(policy),
                parse.GetValue(strategy),
                parse.GetValue(timeout),
                parse.GetValue(noCache),
                parse.GetValue(cacheEntries),
                parse.GetValue(queryLog),
                parse.GetValue(privacy),
                parse.GetValue(metrics),
                parse.GetValue(allowClient) ?? [],
                parse.GetValue(logLimit),
                parse.GetValue(check))
            {
                LogFormat = parse.GetValue(logFormat),
                UpstreamFor = parse.GetValue(upstreamFor) ?? [],
                DotListen = parse.GetValue(dotListen) ?? [],
                TlsCertificate = parse.GetValue(tlsCert),
                TlsKey = parse.GetValue(tlsKey),
            },
            export.TryBuild(parse, out ExportSettings? exportSettings, out string? exportError) ? exportSettings : null,
            exportError,
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>A repeatable <c>IP:PORT</c> option, each value checked as the configuration file checks <c>listen</c>.</summary>
    private static Option<string[]> EndPoints(string name, string description)
    {
        var option = new Option<string[]>(name) { Description = description, Arity = ArgumentArity.ZeroOrMore };
        option.Validators.Add(r =>
        {
            foreach (string s in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!ProxyConfig.TryParseEndPoint(s, out _, out string? error))
                {
                    r.AddError($"{name}: {error}");
                }
            }
        });
        return option;
    }

    internal sealed record ProxyFlags(
        FileInfo? Config,
        string[] Listen,
        string[] Upstreams,
        FileInfo? Policy,
        string? Strategy,
        string? Timeout,
        bool NoCache,
        int? CacheEntries,
        string? QueryLog,
        string? Privacy,
        string? Metrics,
        string[]? AllowClients = null,
        string? LogLimit = null,
        bool Check = false)
    {
        /// <summary><c>--log-format</c>: <c>json</c> or <c>ecs</c>; null keeps the configuration's <c>query_log.format</c>.</summary>
        public string? LogFormat { get; init; }

        /// <summary><c>--upstream-for SUFFIX=URL</c> values, laid over the configuration's <c>upstream_for</c>.</summary>
        public string[] UpstreamFor { get; init; } = [];

        /// <summary><c>--dot-listen</c>: DoT endpoints replacing the configuration's <c>dot.listen</c>.</summary>
        public string[] DotListen { get; init; } = [];

        public FileInfo? TlsCertificate { get; init; }

        public FileInfo? TlsKey { get; init; }
    }

    /// <summary>Where a service's configuration lives when --config is not given (read only when it exists).</summary>
    internal const string DefaultConfigPath = "/etc/dnsw/proxy.json";

    private static FileInfo? DefaultConfig() => File.Exists(DefaultConfigPath) ? new FileInfo(DefaultConfigPath) : null;

    /// <summary>The configuration file (if any) with the flags laid over it; null and a message when something is wrong.</summary>
    internal static ProxyConfig? Resolve(ProxyFlags flags, out string? error)
    {
        ProxyConfig config = new() { Source = "flags" };
        if (flags.Config is not null)
        {
            if (!ProxyConfigLoader.TryLoad(flags.Config.FullName, out ProxyConfig? loaded, out PolicyError? e))
            {
                error = e!.ToString();
                return null;
            }

            config = loaded!;
        }

        if (flags.Listen.Length > 0)
        {
            config = config with { Listen = [.. flags.Listen.Select(s => ProxyConfig.TryParseEndPoint(s, out IPEndPoint? ep, out _) ? ep : throw new InvalidOperationException(s))] };
        }

        if (flags.Upstreams.Length > 0)
        {
            config = config with { Upstreams = [.. flags.Upstreams.Select(s => UpstreamConfig.TryParse(s, out UpstreamConfig? u, out _) ? u : throw new InvalidOperationException(s))] };
        }

        if (flags.DotListen.Length > 0)
        {
            config = config with { DotListen = [.. flags.DotListen.Select(s => ProxyConfig.TryParseEndPoint(s, out IPEndPoint? ep, out _) ? ep : throw new InvalidOperationException(s))] };
        }

        foreach ((FileInfo? file, string flag) in new[] { (flags.TlsCertificate, "--tls-cert"), (flags.TlsKey, "--tls-key") })
        {
            if (file is not null && !file.Exists)
            {
                error = $"{flag}: no such file '{file.FullName}'";
                return null;
            }
        }

        if (flags.TlsCertificate is not null)
        {
            config = config with { TlsCertificateFile = flags.TlsCertificate.FullName };
        }

        if (flags.TlsKey is not null)
        {
            config = config with { TlsKeyFile = flags.TlsKey.FullName };
        }

        if (flags.UpstreamFor.Length > 0)
        {
            config = config with { DomainUpstreams = UpstreamOption.MergeFor(config.DomainUpstreams, flags.UpstreamFor) };
        }

        if (flags.Policy is not null)
        {
            if (!ResolverPolicyLoader.TryLoad(flags.Policy.FullName, out ResolverPolicy? p, out PolicyError? e))
            {
                error = e!.ToString();
                return null;
            }

            config = config with { Policy = p!, PolicyPath = flags.Policy.FullName };
        }

        if (flags.Strategy is not null)
        {
            config = config with { Strategy = flags.Strategy == "race" ? UpstreamStrategy.Race : UpstreamStrategy.Failover };
        }

        if (flags.Timeout is not null && PolicyDuration.TryParse(flags.Timeout, out TimeSpan timeout))
        {
            config = config with { UpstreamTimeout = timeout };
        }

        if (flags.NoCache)
        {
            config = config with { CacheEnabled = false };
        }

        if (flags.CacheEntries is int entries)
        {
            config = config with { CacheMaxEntries = entries };
        }

        if (flags.QueryLog is not null)
        {
            config = config with { QueryLogPath = flags.QueryLog };
        }

        if (flags.Privacy is not null)
        {
            config = config with { QueryLogPrivacy = flags.Privacy };
        }

        if (flags.LogFormat is not null)
        {
            config = config with { QueryLogFormat = flags.LogFormat };
        }

        if (flags.Metrics is not null && ProxyConfig.TryParseEndPoint(flags.Metrics, out IPEndPoint? m, out _))
        {
            config = config with { MetricsListen = m };
        }

        if (flags.AllowClients is { Length: > 0 } allowClients)
        {
            config = config with { AllowClients = [.. allowClients.Select(s => ProxyConfig.TryParseNetwork(s, out IPNetwork n, out _) ? n : throw new InvalidOperationException(s))] };
        }

        if (flags.LogLimit is not null && ProxyConfig.TryParseLogLimit(flags.LogLimit, out long logLimit, out _))
        {
            config = config with { QueryLogBytesPerMinute = logLimit };
        }

        IReadOnlyList<string> problems = config.Validate();
        if (problems.Count > 0)
        {
            error = $"{config.Source}: {string.Join("; ", problems)}";
            return null;
        }

        error = null;
        return config;
    }

    private static async Task<int> RunAsync(ProxyFlags flags, ExportSettings? export, string? exportError, TextWriter stdout, TextWriter stderr)
    {
        ProxyConfig? config = Resolve(flags, out string? error);
        if (config is null || exportError is not null)
        {
            await stderr.WriteLineAsync($"dnsw proxy: {error ?? exportError}").ConfigureAwait(false);
            return ExitCodes.InputError;
        }

        if (flags.Check)
        {
            // Nothing is bound or opened: what the file and flags say, checked as a start would check them.
            await stdout.WriteLineAsync($"dnsw proxy: {flags.Config?.FullName ?? "flags"}: configuration is valid; would serve {Summary(config)}").ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        ClickHouseExporter? exporter = null;
        if (export is not null && (exporter = ExportOptions.Start(export, stderr, out exportError)) is null)
        {
            await stderr.WriteLineAsync($"dnsw proxy: {exportError}").ConfigureAwait(false);
            return ExitCodes.InputError;
        }

        try
        {
            return await RunAsync(flags, config, exporter, stdout, stderr).ConfigureAwait(false);
        }
        finally
        {
            if (exporter is not null)
            {
                ExportOptions.Finish(exporter, stderr);
            }
        }
    }

    private static async Task<int> RunAsync(ProxyFlags flags, ProxyConfig config, ClickHouseExporter? exporter, TextWriter stdout, TextWriter stderr)
    {
        ResolverHost host;
        var lines = new ServiceLines(stderr, SystemdNotifier.StandardErrorIsJournal());
        // The query log is the invoking user's file: opened as that user, never through a link.
        var hooks = new ResolverHostHooks { OpenLogFile = path => OutputFiles.Open(path, append: true, bufferSize: 64 * 1024) };
        if (exporter is not null)
        {
            PrivacyRedactor.TryParse(config.QueryLogPrivacy, out PrivacyMode privacy);
            hooks = hooks with
            {
                QueryLog = new QueryExport(exporter, "proxy", privacy, BaseDomains.Default),
                Metrics = () => ExportMetrics.Families(exporter),
            };
        }

        try
        {
            // The host's addresses, read once: the default allow list's subnets, and rebinding protection's own addresses.
            IReadOnlyList<InterfaceAddress> hostAddresses = OperatingSystem.IsLinux() ? HostAddresses.Read() : [];
            host = ResolverHost.Create(config, stdout, hooks: hooks, hostAddresses: hostAddresses);
        }
        catch (ArgumentException e)
        {
            await lines.ErrorAsync($"dnsw proxy: {CliText.Describe(e)}").ConfigureAwait(false);
            return ExitCodes.InputError;
        }
        catch (ListenerBindException e)
        {
            await lines.ErrorAsync($"dnsw proxy: cannot listen on {e.Message}").ConfigureAwait(false);
            return ExitCodes.StartError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await lines.ErrorAsync($"dnsw proxy: --query-log {CliText.About(config.QueryLogPath ?? "", e)}").ConfigureAwait(false);
            return ExitCodes.InputError;
        }

        await using (host.ConfigureAwait(false))
        {
            try
            {
                await host.StartAsync().ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                await lines.ErrorAsync($"dnsw proxy: cannot serve metrics on tcp {config.MetricsListen}: {e.Message}").ConfigureAwait(false);
                return ExitCodes.StartError;
            }

            using var stop = new CancellationTokenSource();
            var reloads = new SemaphoreSlim(0);
            void Stop(PosixSignalContext c)
            {
                c.Cancel = true;
                stop.Cancel();
            }

            void Hangup(PosixSignalContext c)
            {
                c.Cancel = true;
                reloads.Release();
            }

            using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using PosixSignalRegistration hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Hangup);

            // Listeners are bound and answering: tell the service manager (Type=notify), then keep its watchdog fed.
            using SystemdNotifier notifier = SystemdNotifier.FromEnvironment();
            string serving = Describe(host);
            await lines.InfoAsync(serving).ConfigureAwait(false);
            notifier.Ready(serving);
            try
            {
                while (true)
                {
                    await reloads.WaitAsync(stop.Token).ConfigureAwait(false);
                    notifier.Reloading();
                    (string reloaded, bool ok) = Reload(host, flags);
                    await (ok ? lines.NoticeAsync(reloaded) : lines.WarningAsync(reloaded)).ConfigureAwait(false);
                    if (host.QueryLogIsFile)
                    {
                        string? reopenError = await host.ReopenQueryLogAsync().ConfigureAwait(false);
                        await (reopenError is null
                            ? lines.NoticeAsync($"dnsw proxy: reopened the query log {config.QueryLogPath}")
                            : lines.WarningAsync($"dnsw proxy: could not reopen the query log, still writing the old file: {reopenError}")).ConfigureAwait(false);
                    }

                    notifier.Status(serving);
                }
            }
            catch (OperationCanceledException)
            {
            }

            notifier.Stopping();
            await lines.InfoAsync("dnsw proxy: stopping (answering the queries already read)").ConfigureAwait(false);
            await host.StopAsync(s_drain).ConfigureAwait(false);
            await lines.InfoAsync(Totals(host.Engine.Metrics)).ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    /// <summary>SIGHUP: the policy is read again (from the configuration file, or --policy); listeners and upstreams stay.</summary>
    internal static (string Line, bool Ok) Reload(ResolverHost host, ProxyFlags flags)
    {
        string? policyPath = flags.Policy?.FullName ?? (flags.Config is null ? null : host.Config.PolicyPath);
        if (policyPath is not null)
        {
            if (!ResolverPolicyLoader.TryLoad(policyPath, out ResolverPolicy? p, out PolicyError? e))
            {
                return ($"dnsw proxy: reload failed, the previous policy stays: {e}", false);
            }

            host.Reload(p!);
            return ($"dnsw proxy: reloaded policy from {policyPath}", true);
        }

        if (flags.Config is not null)
        {
            if (!ProxyConfigLoader.TryLoad(flags.Config.FullName, out ProxyConfig? c, out PolicyError? e))
            {
                return ($"dnsw proxy: reload failed, the previous policy stays: {e}", false);
            }

            host.Reload(c!.Policy);
            return ($"dnsw proxy: reloaded the inline policy of {flags.Config.FullName} (listeners and upstreams change on restart)", true);
        }

        return ("dnsw proxy: nothing to reload (no --config or --policy file)", true);
    }

    /// <summary>What --check says would run: the same words a start prints, with the query log.</summary>
    private static string Summary(ProxyConfig c)
    {
        string log = c.QueryLogPath is null ? "no query log" : $"query log {c.QueryLogPath} ({c.QueryLogPrivacy}{(c.QueryLogFormat == "ecs" ? ", Elastic Common Schema" : "")})";
        return $"{Serving(c, c.Listen)}; {log}";
    }

    private static string Describe(ResolverHost host)
    {
        string metrics = host.MetricsEndPoint is { } m ? $"; metrics http://{m}/metrics" : "";
        string clients = string.Join(" ", host.AllowedClients.Select(n => n.ToString()));
        return $"dnsw proxy: serving {Serving(host.Config, host.UdpEndPoints)}{metrics}; clients {clients}";
    }

    /// <summary>"udp+tcp ADDRESSES → UPSTREAMS (strategy); cache; policy": one wording for a start and for --check.</summary>
    private static string Serving(ProxyConfig c, IEnumerable<IPEndPoint> listening)
    {
        string upstreams = c.Upstreams.Count == 0 ? "no upstream (policy answers only)" : string.Join(", ", c.Upstreams.Select(u => u.Url)) + $" ({(c.Strategy == UpstreamStrategy.Race ? "race" : "failover")})";
        foreach (DomainUpstream route in c.DomainUpstreams)
        {
            upstreams += $"; {route.Suffix} → {string.Join(", ", route.Upstreams.Select(u => u.Url))}";
        }

        string cache = c.CacheEnabled ? $"cache {c.CacheMaxEntries.ToString(CultureInfo.InvariantCulture)} entries" : "no cache";
        string dot = c.DotListen.Count == 0 ? "" : ", DoT " + string.Join(" ", c.DotListen.Select(e => e.ToString()));
        return $"udp+tcp {string.Join(" ", listening.Select(e => e.ToString()))}{dot} → {upstreams}; {cache}; policy {c.PolicyPath ?? c.Policy.Source}";
    }

    private static string Totals(ResolverMetrics m)
    {
        long total = 0;
        var parts = new List<string>();
        foreach (QueryOutcome o in Enum.GetValues<QueryOutcome>())
        {
            long n = m.Count(o);
            total += n;
            if (n > 0)
            {
                parts.Add($"{Resolver.Logging.QueryLogJson.FormatVerdict(o)} {n.ToString(CultureInfo.InvariantCulture)}");
            }
        }

        return $"dnsw proxy: {total.ToString(CultureInfo.InvariantCulture)} queries served" + (parts.Count > 0 ? ": " + string.Join(", ", parts) : "");
    }
}
