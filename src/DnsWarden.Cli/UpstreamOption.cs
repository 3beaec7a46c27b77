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

    /// <summary>The upstreams of validated values, in order.</summary>
    public static UpstreamConfig[] Parse(IEnumerable<string> validated) =>
        [.. validated.Select(s => UpstreamConfig.TryParse(s, out UpstreamConfig? u, out string? error) ? u : throw new InvalidOperationException($"--upstream {s}: {error}"))];
}
