using System.CommandLine;
using DnsWarden.Policy;

namespace DnsWarden.Cli;

/// <summary><c>--upstream URL</c> (repeatable), read the same way by every command that resolves: proxy, jail, tun.</summary>
internal static class UpstreamOption
{
    public static Option<string[]> Create(string description)
    {
        var option = new Option<string[]>("--upstream") { Description = description, Arity = ArgumentArity.ZeroOrMore };
        option.Validators.Add(r =>
        {
            foreach (string s in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!UpstreamConfig.TryParse(s, out _, out string? error))
                {
                    r.AddError($"--upstream: {error}");
                }
            }
        });
        return option;
    }

    /// <summary><c>--upstream-for SUFFIX=URL</c> (repeatable): names at or below SUFFIX go to URL only (conditional forwarding).</summary>
    public static Option<string[]> CreateFor()
    {
        var option = new Option<string[]>("--upstream-for")
        {
            Description = "Send names at or below SUFFIX only to this upstream (repeatable; the longest suffix wins), e.g. corp.example=udp://10.0.0.53.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        option.Validators.Add(r =>
        {
            foreach (string s in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!TryParseFor(s, out _, out string? error))
                {
                    r.AddError($"--upstream-for: {error}");
                }
            }
        });
        return option;
    }

    /// <summary>
    /// The routes of validated <c>--upstream-for</c> values laid over <paramref name="routes"/>: one route per suffix,
    /// a suffix named on the command line taking all its upstreams from there (in the order given).
    /// </summary>
    public static IReadOnlyList<DomainUpstream> MergeFor(IReadOnlyList<DomainUpstream> routes, IEnumerable<string> validated)
    {
        var fromFlags = new List<DomainUpstream>();
        foreach (string s in validated)
        {
            DomainUpstream one = TryParseFor(s, out DomainUpstream? r, out string? error) ? r : throw new InvalidOperationException($"--upstream-for {s}: {error}");
            int at = fromFlags.FindIndex(f => f.Suffix == one.Suffix);
            if (at < 0)
            {
                fromFlags.Add(one);
            }
            else
            {
                fromFlags[at] = fromFlags[at] with { Upstreams = [.. fromFlags[at].Upstreams, .. one.Upstreams] };
            }
        }

        return [.. routes.Where(r => !fromFlags.Any(f => f.Suffix == r.Suffix)), .. fromFlags];
    }

    private static bool TryParseFor(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DomainUpstream? route, out string? error)
    {
        route = null;
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        if (eq < 0)
        {
            error = $"expected SUFFIX=URL such as corp.example=udp://10.0.0.53, got '{text}'";
            return false;
        }

        if (!DomainUpstream.TryParseSuffix(text[..eq], out string suffix, out error) || !UpstreamConfig.TryParse(text[(eq + 1)..], out UpstreamConfig? upstream, out error))
        {
            return false;
        }

        if (upstream.ConnectAddress is null)
        {
            error = $"'{upstream.Host}' needs a bootstrap address (NAME@IP): the resolver never asks the system resolver";
            return false;
        }

        route = new DomainUpstream(suffix, [upstream]);
        return true;
    }

    /// <summary>The upstreams of validated values, in order.</summary>
    public static UpstreamConfig[] Parse(IEnumerable<string> validated) =>
        [.. validated.Select(s => UpstreamConfig.TryParse(s, out UpstreamConfig? u, out string? error) ? u : throw new InvalidOperationException($"--upstream {s}: {error}"))];
}
