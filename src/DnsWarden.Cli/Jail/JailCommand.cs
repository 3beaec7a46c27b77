using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using DnsWarden.Cli.Export;
using DnsWarden.Export;
using DnsWarden.Guard.Jail;
using DnsWarden.Guard.Jail.Interception;
using DnsWarden.Indicators;
using DnsWarden.Platform.Users;
using DnsWarden.Policy;
using DnsWarden.Policy.Http;
using DnsWarden.Report.Jail;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Cli.Jail;

/// <summary><c>dnsw jail [options] -- CMD ARGS…</c>: run CMD where every DNS query lands on our stub (docs/JAIL.md).</summary>
internal static class JailCommand
{
    public static Command Build()
    {
        var mode = new Option<string>("--mode") { Description = "sinkhole (default): every A is 6.6.6.6, every AAAA ::, nothing resolved; policy: names the policy allows are resolved upstream.", DefaultValueFactory = _ => "sinkhole" };
        mode.AcceptOnlyFromAmong("sinkhole", "policy");
        var policy = new Option<FileInfo?>("--policy") { Description = "The resolver policy (docs/RESOLVER.md) for --mode policy." };
        Option<string[]> upstream = UpstreamOption.Create("Where allowed names are resolved (repeatable; as for dnsw proxy), from the host's side.");
        var user = new Option<string?>("--user") { Description = "Run CMD as this user (default: the user sudo ran dnsw for, else nobody)." };
        // The proxy's and the TUN filter's name for the same log, appended to as they append; --out stays as an alias.
        var output = new Option<FileInfo?>("--query-log", "--out") { Description = "Append every DNS query with its verdict and exfiltration score, and every refused connection, as JSON lines to this file (--log-format)." };
        Option<string?> privacy = PrivacyOption.Create("What --out keeps");
        var writable = new Option<string[]>("--writable") { Description = "A directory the command may write beneath (repeatable; default: the current directory). Everything else it can only read; /tmp is its own.", Arity = ArgumentArity.ZeroOrMore };
        Option<string?> logLimit = LogLimitOption.Create("--query-log");
        Option<string?> logFormat = LogFormatOption.Create("--query-log");
        var report = new Option<FileInfo?>("--report") { Description = "Write what the run did as one self-contained HTML page: DNS verdicts, names allowed and denied, refused destinations." };
        Option<FileInfo?> config = EngineConfigOption.Create("the jail");
        var allow = new Option<string[]>("--allow") { Description = "Decide TCP by host: allow HTTP(S) to this host (api.example.com or *.example.com; 'GET host/path/' narrows HTTP, and HTTPS with --intercept), or raw TCP with tcp:NAME:PORT (repeatable). Everything else is refused.", Arity = ArgumentArity.ZeroOrMore };
        var requestLog = new Option<FileInfo?>("--request-log") { Description = "With --allow or --observe: write every decision of the host proxy (verdict, rule, method, host or SNI, path, destination, bytes) to this file, with --privacy." };
        var requestLogFormat = new Option<string>("--request-log-format") { Description = "json (default): dnsw's JSON lines; httpjail: '<timestamp> <+/-> <METHOD> <URL>'.", DefaultValueFactory = _ => "json" };
        requestLogFormat.AcceptOnlyFromAmong("json", "httpjail");
        var observe = new Option<bool>("--observe") { Description = "Decide TCP by host, but allow everything and log it (to write --allow rules from)." };
        var intercept = new Option<bool>("--intercept") { Description = "With --allow: terminate TLS with certificates minted from a CA made for this run (key only in memory), given to CMD to trust (SSL_CERT_FILE and kin), so method and path rules hold for HTTPS too." };
        var caCert = new Option<FileInfo?>("--ca-cert") { Description = "With --intercept: mint from this CA (PEM certificate) instead of an ephemeral one; needs --ca-key." };
        var caKey = new Option<FileInfo?>("--ca-key") { Description = "With --ca-cert: the CA's private key (PEM, unencrypted)." };
        var upstreamCa = new Option<FileInfo[]>("--upstream-ca") { Description = "With --intercept: also trust these CA certificates (PEM) for the real servers, beside the system roots (repeatable).", Arity = ArgumentArity.ZeroOrMore };
        var cleanup = new Option<bool>("--cleanup") { Description = "Only remove what jails killed with SIGKILL left (namespaces, veth pairs, nftables tables), then exit." };
        var commandLine = new Argument<string[]>("command") { Description = "The command and its arguments (after --).", Arity = ArgumentArity.ZeroOrMore };

        var export = new ExportOptions("jail");
        var command = new Command("jail", "Run a command in a network namespace where every DNS query, to any address, lands on our stub, and egress reaches only what the stub resolved.")
        {
            mode, policy, upstream, config, user, output, privacy, logLimit, logFormat, writable, report, allow, observe, requestLog, requestLogFormat, intercept, caCert, caKey, upstreamCa, cleanup, commandLine,
        };
        export.AddTo(command);
        command.SetAction((parse, _) => OptionTakenForTheCommand(parse, commandLine) is { } unknown
            ? UnknownOptionAsync(unknown, parse.InvocationConfiguration.Error)
            : RunAsync(
            export.TryBuild(parse, out ExportSettings? exportSettings, out string? exportError) ? new ExportRequest(exportSettings) : new ExportRequest(null, exportError),
            parse.GetValue(mode)!,
            parse.GetValue(policy),
            parse.GetValue(upstream) ?? [],
            parse.GetValue(user),
            parse.GetValue(output),
            parse.GetValue(privacy)!,
            parse.GetValue(writable) ?? [],
            LogLimitOption.BytesPerMinute(parse.GetValue(logLimit)),
            LogFormatOption.Parse(parse.GetValue(logFormat)),
            parse.GetValue(cleanup),
            parse.GetValue(commandLine) ?? [],
            parse.InvocationConfiguration.Error,
            parse.GetValue(report),
            parse.GetValue(config),
            new HostRuleArguments(parse.GetValue(allow) ?? [], parse.GetValue(observe), parse.GetValue(requestLog), parse.GetValue(requestLogFormat) == "httpjail" ? RequestLogFormat.Httpjail : RequestLogFormat.Json,
                parse.GetValue(intercept), parse.GetValue(caCert), parse.GetValue(caKey), parse.GetValue(upstreamCa) ?? [])));
        return command;
    }

    /// <summary>
    /// The parser hands a token it does not know as an option to the command argument; before <c>--</c> that is a
    /// mistyped option (<c>dnsw jail --alow x -- curl</c>), which must not become the program the jail runs.
    /// </summary>
    private static string? OptionTakenForTheCommand(ParseResult parse, Argument<string[]> commandLine)
    {
        IReadOnlyList<Token> tokens = parse.GetResult(commandLine)?.Tokens ?? [];
        if (tokens.Count == 0 || !tokens[0].Value.StartsWith('-'))
        {
            return null;
        }

        foreach (Token token in parse.Tokens)
        {
            if (token.Type == TokenType.DoubleDash)
            {
                return null;
            }

            if (ReferenceEquals(token, tokens[0]))
            {
                return token.Value;
            }
        }

        return null;
    }

    private static async Task<int> UnknownOptionAsync(string option, TextWriter stderr)
    {
        // As the parser's own usage errors read (Program.Main): the command to run only ever comes after "--".
        await stderr.WriteLineAsync($"dnsw: Unrecognized command or argument '{option}'.").ConfigureAwait(false);
        await stderr.WriteLineAsync("Try 'dnsw jail --help' for more information.").ConfigureAwait(false);
        return ExitCodes.Usage;
    }

    private static async Task<int> RunAsync(ExportRequest export, string mode, FileInfo? policyFile, string[] upstreams, string? user, FileInfo? output, string privacy, string[] writable, long logLimit, QueryLogFormat logFormat, bool cleanupOnly, string[] command, TextWriter stderr, FileInfo? report, FileInfo? configFile, HostRuleArguments hosts)
    {
        if (!OperatingSystem.IsLinux())
        {
            await stderr.WriteLineAsync("dnsw jail: Linux only (network namespaces and nftables)").ConfigureAwait(false);
            return ExitCodes.StartError;
        }

        if (!Environment.IsPrivilegedProcess)
        {
            await stderr.WriteLineAsync("dnsw jail: must run as root (it creates a network namespace and nftables rules); try sudo").ConfigureAwait(false);
            return ExitCodes.StartError;
        }

        return await RunLinuxAsync(export, mode, policyFile, upstreams, user, output, privacy, writable, logLimit, logFormat, cleanupOnly, command, stderr, report, configFile, hosts).ConfigureAwait(false);
    }

    [SupportedOSPlatform("linux")]
    private static async Task<int> RunLinuxAsync(ExportRequest export, string mode, FileInfo? policyFile, string[] upstreams, string? user, FileInfo? output, string privacy, string[] writable, long logLimit, QueryLogFormat logFormat, bool cleanupOnly, string[] command, TextWriter stderr, FileInfo? report, FileInfo? configFile, HostRuleArguments hosts)
    {
        if (cleanupOnly)
        {
            IReadOnlyList<string> removed = JailNetwork.CleanupStale();
            string named = removed.Count == 0 ? "" : ": " + string.Join(' ', removed.Select(id => JailNetwork.NamespacePrefix + id));
            await stderr.WriteLineAsync($"dnsw jail: removed {removed.Count.ToString(CultureInfo.InvariantCulture)} dead jail(s){named}").ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        if (command.Length == 0)
        {
            await stderr.WriteLineAsync("dnsw jail: no command given (dnsw jail [options] -- CMD ARGS…)").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        // A policy mode with no policy would forward every name and open every answer: no jail at all.
        if (mode == "policy" && configFile is null && (policyFile is null || upstreams.Length == 0))
        {
            await stderr.WriteLineAsync("dnsw jail: --mode policy needs --policy FILE (which names may resolve) and --upstream URL (where they resolve), or a --config FILE naming both; without them the jail would let everything through").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        if (mode != "policy" && policyFile is not null)
        {
            await stderr.WriteLineAsync("dnsw jail: --policy applies to --mode policy only (sinkhole mode resolves nothing)").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        ResolverPolicy? policy = null;
        if (policyFile is not null)
        {
            if (!ResolverPolicyLoader.TryLoad(policyFile.FullName, out ResolverPolicy? loaded, out PolicyError? e))
            {
                await stderr.WriteLineAsync($"dnsw jail: {e}").ConfigureAwait(false);
                return ExitCodes.InputError;
            }

            policy = loaded!;
        }

        if (EngineConfigOption.Resolve(configFile, UpstreamOption.Parse(upstreams), policy, out string? configError) is not { } engine)
        {
            await stderr.WriteLineAsync($"dnsw jail: {configError}").ConfigureAwait(false);
            return ExitCodes.InputError;
        }

        if (mode == "policy" && (ReferenceEquals(engine.Policy, ResolverPolicy.Default) || engine.Upstreams.Count == 0))
        {
            await stderr.WriteLineAsync($"dnsw jail: --mode policy needs a policy and an upstream, and {configFile?.FullName} names {(engine.Upstreams.Count == 0 ? "no upstream" : "no policy")} (add it there or give --policy/--upstream)").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        // --allow and the policy's http section are one list; the file's line:col errors were given above.
        if (!HostRules.TryParse([.. engine.Policy.Http.Rules.Select(r => r.Text), .. hosts.Allow], hosts.Observe || engine.Policy.Http.Observe, out HostRules? hostRules, out string? ruleError))
        {
            await stderr.WriteLineAsync($"dnsw jail: --allow {ruleError}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        // The proxy resolves an allowed host itself (the address the command dialled is never trusted): it needs upstreams.
        if (hostRules!.Active && engine.Upstreams.Count == 0)
        {
            await stderr.WriteLineAsync("dnsw jail: --allow and --observe need --upstream URL (where the proxy resolves the hosts it allows)").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        (InterceptionSettings? interception, int interceptionStatus) = await InterceptionAsync(hosts, hostRules, stderr).ConfigureAwait(false);
        if (interceptionStatus != ExitCodes.Ok)
        {
            return interceptionStatus;
        }

        using JailCertificateAuthority? ownedCa = interception?.Ca;
        if (hosts.RequestLog is not null && !hostRules.Active)
        {
            await stderr.WriteLineAsync("dnsw jail: --request-log needs --allow or --observe (without host rules there is no proxy to log)").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        UserAccount? account = ResolveUser(user, out string? why);
        if (account is null)
        {
            await stderr.WriteLineAsync($"dnsw jail: {why}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        // Opened now, as the invoking user and never through a link, so a refusal comes before anything is built.
        using FileStream? reportFile = report is null ? null : OutputFiles.TryOpen("--report", report.FullName, append: false, stderr);
        if (report is not null && reportFile is null)
        {
            return ExitCodes.InputError;
        }

        PrivacyRedactor.TryParse(privacy, out PrivacyMode privacyMode);
        var options = new JailOptions
        {
            Mode = mode == "policy" ? JailMode.Policy : JailMode.Sinkhole,
            Engine = engine,
            Hosts = hostRules,
            RequestLogPath = hosts.RequestLog?.FullName,
            RequestLogFormat = hosts.RequestLogFormat,
            Interception = interception,
            User = account,
            OutputOwner = UserAccount.Invoking(),
            Command = command,
            OutPath = output?.FullName,
            Privacy = privacyMode,
            Writable = writable.Length > 0 ? [.. writable.Select(Path.GetFullPath)] : [Environment.CurrentDirectory],
            InitCommand = JailInitCommand.SelfCommand(),
            LogLimit = logLimit,
            LogFormat = logFormat,
            OnReport = reportFile is null ? null : r => OutputFiles.TryWrite(reportFile, JailHtmlReport.Render(r), "--report"),
        };

        // The run drops to nobody before it reads from the jail (JailRunner): the exporter spools where nobody can write.
        if (!export.TryStartFor(PrivilegeDrop.Nobody, PrivilegeDrop.Nobody, stderr, "dnsw jail", out ClickHouseExporter? exporter, out IDisposable? spoolHeld))
        {
            return ExitCodes.InputError;
        }

        if (exporter is not null)
        {
            options = options with
            {
                QueryExport = new QueryExport(exporter, "jail", privacyMode, BaseDomains.Default),
                OnRefused = a => exporter.TryAdd(DecisionRows.FromJail(a)),
            };
        }

        try
        {
            return await JailRunner.RunAsync(options, stderr).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            await stderr.WriteLineAsync($"dnsw jail: {e.Message}").ConfigureAwait(false);
            return ExitCodes.StartError;
        }
        catch (IOException e) when (output is not null && e.Message.StartsWith(output.FullName, StringComparison.Ordinal))
        {
            await stderr.WriteLineAsync($"dnsw jail: --out {e.Message}").ConfigureAwait(false);
            return ExitCodes.InputError;
        }
        catch (IOException e) when (hosts.RequestLog is not null && e.Message.StartsWith(hosts.RequestLog.FullName, StringComparison.Ordinal))
        {
            await stderr.WriteLineAsync($"dnsw jail: --request-log {e.Message}").ConfigureAwait(false);
            return ExitCodes.InputError;
        }
        finally
        {
            if (exporter is not null)
            {
                ExportOptions.Finish(exporter, stderr);
            }

            spoolHeld?.Dispose();
        }
    }

    /// <summary>--allow and --observe as given.</summary>
    private sealed record HostRuleArguments(string[] Allow, bool Observe, FileInfo? RequestLog, RequestLogFormat RequestLogFormat, bool Intercept, FileInfo? CaCert, FileInfo? CaKey, FileInfo[] UpstreamCa);

    /// <summary>
    /// --intercept's CA and the upstream roots: null with nothing said when not intercepting; a usage error when the
    /// options do not fit together (1), a broken file named with what was expected (125, as the jail's own failures).
    /// </summary>
    private static async Task<(InterceptionSettings? Settings, int Status)> InterceptionAsync(HostRuleArguments hosts, HostRules rules, TextWriter stderr)
    {
        if (!hosts.Intercept)
        {
            if (hosts.CaCert is not null || hosts.CaKey is not null || hosts.UpstreamCa.Length > 0)
            {
                await stderr.WriteLineAsync("dnsw jail: --ca-cert, --ca-key and --upstream-ca apply to --intercept only").ConfigureAwait(false);
                return (null, ExitCodes.Usage);
            }

            return (null, ExitCodes.Ok);
        }

        if (!rules.Active)
        {
            await stderr.WriteLineAsync("dnsw jail: --intercept needs --allow or --observe (it terminates the TLS the host proxy allows)").ConfigureAwait(false);
            return (null, ExitCodes.Usage);
        }

        if ((hosts.CaCert is null) != (hosts.CaKey is null))
        {
            await stderr.WriteLineAsync("dnsw jail: --ca-cert and --ca-key go together (the CA's certificate and its private key)").ConfigureAwait(false);
            return (null, ExitCodes.Usage);
        }

        JailCertificateAuthority? ca;
        if (hosts.CaCert is null)
        {
            ca = JailCertificateAuthority.CreateEphemeral("CN=dnsw jail interception CA " + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ", O=dnsw");
        }
        else if (!JailCertificateAuthority.TryLoad(hosts.CaCert.FullName, hosts.CaKey!.FullName, out ca, out string? caError))
        {
            await stderr.WriteLineAsync($"dnsw jail: {caError}").ConfigureAwait(false);
            return (null, ExitCodes.JailError);
        }

        if (!InterceptionSettings.TryLoadUpstreamRoots([.. hosts.UpstreamCa.Select(f => f.FullName)], out X509Certificate2Collection? roots, out string? rootsError))
        {
            ca!.Dispose();
            await stderr.WriteLineAsync($"dnsw jail: --upstream-ca {rootsError}").ConfigureAwait(false);
            return (null, ExitCodes.JailError);
        }

        return (new InterceptionSettings(ca!, roots), ExitCodes.Ok);
    }

    /// <summary>
    /// --user NAME (or a uid), else the user sudo ran dnsw for, else nobody: never an account with uid 0 or gid 0, whatever
    /// it is called — root without capabilities can still write /etc and kernel.core_pattern.
    /// </summary>
    [SupportedOSPlatform("linux")]
    private static UserAccount? ResolveUser(string? user, out string? why)
    {
        why = null;
        UserAccount? account;
        if (user is not null)
        {
            account = UserAccount.Find(user);
            if (account is null)
            {
                why = $"--user: no user '{user}'";
                return null;
            }
        }
        else
        {
            UserAccount invoking = UserAccount.Invoking();
            account = invoking.IsRoot ? UserAccount.Find("nobody") ?? new UserAccount("nobody", 65534, 65534, "/nonexistent", "/usr/sbin/nologin", [65534]) : invoking;
        }

        if (account.IsRoot)
        {
            why = $"--user: refusing to run the command as {account.Name} (uid {account.Uid}, gid {account.Gid}): the command never runs as uid 0 or gid 0";
            return null;
        }

        return account;
    }
}
