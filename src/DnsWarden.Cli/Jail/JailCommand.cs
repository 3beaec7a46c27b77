using System.CommandLine;
using System.Globalization;
using System.Runtime.Versioning;
using DnsWarden.Guard.Jail;
using DnsWarden.Indicators;
using DnsWarden.Policy;

namespace DnsWarden.Cli.Jail;

/// <summary><c>dnsw jail [options] -- CMD ARGS…</c>: run CMD where every DNS query lands on our stub (docs/JAIL.md).</summary>
internal static class JailCommand
{
    public static Command Build()
    {
        var mode = new Option<string>("--mode") { Description = "sinkhole (default): every A is 6.6.6.6, every AAAA ::, nothing resolved; policy: names the policy allows are resolved upstream.", DefaultValueFactory = _ => "sinkhole" };
        mode.AcceptOnlyFromAmong("sinkhole", "policy");
        var policy = new Option<FileInfo?>("--policy") { Description = "The resolver policy (docs/RESOLVER.md) for --mode policy." };
        var upstream = new Option<string[]>("--upstream") { Description = "Where allowed names are resolved (repeatable; as for dnsw proxy), from the host's side.", Arity = ArgumentArity.ZeroOrMore };
        upstream.Validators.Add(r =>
        {
            foreach (string s in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!UpstreamConfig.TryParse(s, out _, out string? error))
                {
                    r.AddError($"--upstream: {error}");
                }
            }
        });
        var user = new Option<string?>("--user") { Description = "Run CMD as this user (default: the user sudo ran dnsw for, else nobody)." };
        var output = new Option<FileInfo?>("--out") { Description = "Write every DNS query with its verdict and exfiltration score as JSON lines to this file." };
        var privacy = new Option<string>("--privacy") { Description = "What --out keeps: full, redacted (default) or minimal.", DefaultValueFactory = _ => "redacted" };
        privacy.AcceptOnlyFromAmong("full", "redacted", "minimal");
        Option<string?> logLimit = LogLimitOption.Create("--out");
        var cleanup = new Option<bool>("--cleanup") { Description = "Only remove what jails killed with SIGKILL left (namespaces, veth pairs, nftables tables), then exit." };
        var commandLine = new Argument<string[]>("command") { Description = "The command and its arguments (after --).", Arity = ArgumentArity.ZeroOrMore };

        var command = new Command("jail", "Run a command in a network namespace where every DNS query, to any address, lands on our stub, and egress reaches only what the stub resolved.")
        {
            mode, policy, upstream, user, output, privacy, logLimit, cleanup, commandLine,
        };
        command.SetAction((parse, _) => RunAsync(
            parse.GetValue(mode)!,
            parse.GetValue(policy),
            parse.GetValue(upstream) ?? [],
            parse.GetValue(user),
            parse.GetValue(output),
            parse.GetValue(privacy)!,
            LogLimitOption.BytesPerMinute(parse.GetValue(logLimit)),
            parse.GetValue(cleanup),
            parse.GetValue(commandLine) ?? [],
            parse.InvocationConfiguration.Error));
        return command;
    }

    private static async Task<int> RunAsync(string mode, FileInfo? policyFile, string[] upstreams, string? user, FileInfo? output, string privacy, long logLimit, bool cleanupOnly, string[] command, TextWriter stderr)
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

        return await RunLinuxAsync(mode, policyFile, upstreams, user, output, privacy, logLimit, cleanupOnly, command, stderr).ConfigureAwait(false);
    }

    [SupportedOSPlatform("linux")]
    private static async Task<int> RunLinuxAsync(string mode, FileInfo? policyFile, string[] upstreams, string? user, FileInfo? output, string privacy, long logLimit, bool cleanupOnly, string[] command, TextWriter stderr)
    {
        if (cleanupOnly)
        {
            IReadOnlyList<string> removed = JailNetwork.CleanupStale();
            await stderr.WriteLineAsync($"dnsw jail: removed {removed.Count.ToString(CultureInfo.InvariantCulture)} dead jail(s)").ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        if (command.Length == 0)
        {
            await stderr.WriteLineAsync("dnsw jail: no command given (dnsw jail [options] -- CMD ARGS…)").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        ResolverPolicy policy = ResolverPolicy.Default;
        if (policyFile is not null)
        {
            if (!ResolverPolicyLoader.TryLoad(policyFile.FullName, out ResolverPolicy? loaded, out PolicyError? e))
            {
                await stderr.WriteLineAsync($"dnsw jail: {e}").ConfigureAwait(false);
                return ExitCodes.InputError;
            }

            policy = loaded!;
        }

        (int uid, int gid)? ids = ResolveUser(user, out string? why);
        if (ids is null)
        {
            await stderr.WriteLineAsync($"dnsw jail: {why}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        PrivacyRedactor.TryParse(privacy, out PrivacyMode privacyMode);
        var options = new JailOptions
        {
            Mode = mode == "policy" ? JailMode.Policy : JailMode.Sinkhole,
            Policy = policy,
            Upstreams = [.. upstreams.Select(s => UpstreamConfig.TryParse(s, out UpstreamConfig? u, out _) ? u : throw new InvalidOperationException(s))],
            Uid = ids.Value.uid,
            Gid = ids.Value.gid,
            Command = command,
            OutPath = output?.FullName,
            Privacy = privacyMode,
            LogLimit = logLimit,
        };

        try
        {
            return await JailRunner.RunAsync(options, stderr).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            await stderr.WriteLineAsync($"dnsw jail: {e.Message}").ConfigureAwait(false);
            return ExitCodes.StartError;
        }
    }

    /// <summary>--user NAME, else SUDO_UID/SUDO_GID, else nobody (65534): CMD never runs as root.</summary>
    private static (int, int)? ResolveUser(string? user, out string? why)
    {
        why = null;
        if (user is not null)
        {
            foreach (string line in File.ReadAllLines("/etc/passwd"))
            {
                string[] f = line.Split(':');
                if (f.Length > 3 && f[0] == user
                    && int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out int u)
                    && int.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out int g))
                {
                    return (u, g);
                }
            }

            why = $"no user '{user}' in /etc/passwd";
            return null;
        }

        if (int.TryParse(Environment.GetEnvironmentVariable("SUDO_UID"), NumberStyles.None, CultureInfo.InvariantCulture, out int su)
            && int.TryParse(Environment.GetEnvironmentVariable("SUDO_GID"), NumberStyles.None, CultureInfo.InvariantCulture, out int sg) && su != 0)
        {
            return (su, sg);
        }

        return (65534, 65534);
    }
}
