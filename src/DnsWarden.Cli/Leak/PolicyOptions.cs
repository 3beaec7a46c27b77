using System.CommandLine;
using DnsWarden.Policy;

namespace DnsWarden.Cli.Leak;

/// <summary>The policy flags shared by the leak commands: <c>--policy</c>, <c>--profile</c> and the quick flags.</summary>
internal sealed class PolicyOptions
{
    public Option<FileInfo?> Policy { get; } = new("--policy") { Description = "JSON policy file (docs/POLICY.md); its \"profile\" key picks the base profile." };

    public Option<string?> Profile { get; } = new("--profile")
    {
        Description = "Built-in profile: full-tunnel, proxy-stub (default) or split.",
    };

    public Option<string[]> TunnelInterfaces { get; } = new("--tunnel-iface")
    {
        Description = "Treat this interface as a tunnel on the safe path (repeatable; globs such as wg* allowed).",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public Option<string[]> SafeResolvers { get; } = new("--safe-resolver")
    {
        Description = "A resolver DNS may go to: IP, IP:PORT, [IPv6]:PORT or CIDR (repeatable).",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public Option<string[]> ProxyDomains { get; } = new("--proxy-domain")
    {
        Description = "A name (and everything under it) that must only resolve over the safe path; Leak-B otherwise (repeatable).",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public PolicyOptions()
    {
        Profile.AcceptOnlyFromAmong("full-tunnel", "proxy-stub", "split");
        SafeResolvers.Validators.Add(r =>
        {
            foreach (string s in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!Profiles.TryParseEndpoint(s, out _, out string? error))
                {
                    r.AddError("--safe-resolver: " + error);
                }
            }
        });
        ProxyDomains.Validators.Add(r =>
        {
            foreach (string s in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!DomainSet.IsValidRule(s, out string? error))
                {
                    r.AddError("--proxy-domain: " + error);
                }
            }
        });
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Policy);
        command.Options.Add(Profile);
        command.Options.Add(TunnelInterfaces);
        command.Options.Add(SafeResolvers);
        command.Options.Add(ProxyDomains);
    }

    /// <summary>The policy the flags describe; false with a precise message (file:line:column) when the policy file is broken.</summary>
    public bool TryBuild(ParseResult parse, out LeakPolicy? policy, out string? error)
    {
        policy = null;
        error = null;
        LeakPolicy basePolicy;
        if (parse.GetValue(Policy) is { } file)
        {
            if (!PolicyLoader.TryLoad(file.FullName, out LeakPolicy? loaded, out PolicyError? problem))
            {
                error = problem!.ToString();
                return false;
            }

            basePolicy = loaded!;
            if (parse.GetValue(Profile) is { } profileName)
            {
                error = $"--profile {profileName} and --policy {file.Name} both choose a base profile: put \"profile\" in the policy file instead";
                return false;
            }
        }
        else
        {
            Profiles.TryParse(parse.GetValue(Profile) ?? "proxy-stub", out PolicyProfile profile);
            basePolicy = Profiles.Create(profile);
        }

        var resolvers = new List<EndpointRule>();
        foreach (string s in parse.GetValue(SafeResolvers) ?? [])
        {
            Profiles.TryParseEndpoint(s, out EndpointRule? rule, out _);
            resolvers.Add(rule!);
        }

        policy = Profiles.WithQuickFlags(basePolicy, parse.GetValue(TunnelInterfaces) ?? [], resolvers, parse.GetValue(ProxyDomains) ?? []);
        return true;
    }
}
