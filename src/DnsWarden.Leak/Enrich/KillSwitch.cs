using System.Globalization;
using System.Text.Json;

namespace DnsWarden.Leak.Enrich;

/// <summary>
/// Judges an nftables ruleset (<c>nft -j list ruleset</c>, which holds iptables-nft rules too) by sending probe
/// packets through it on paper: DNS to port 53 and 853, UDP and TCP, IPv4 and IPv6, a new flow to an outside resolver,
/// out of each interface off the safe path. Base chains on the output and postrouting hooks (filter and route types)
/// and netdev egress are walked rule by rule; a packet dropped by any of them is dropped. A match the walk cannot decide
/// for an ordinary program (a user, a mark, a cgroup, a destination address) is taken as not matching it, and an accept
/// behind one is named as an exception. Pure: JSON text in, verdict out.
/// </summary>
public static class KillSwitch
{
    private static readonly (string Family, bool V6)[] s_families = [("ipv4", false), ("ipv6", true)];
    private static readonly string[] s_protocols = ["udp", "tcp"];
    private static readonly int[] s_ports = [53, 853];

    private enum Outcome
    {
        Continue,
        Accept,
        Drop,
        Return,
    }

    private enum Match
    {
        No,
        Yes,

        /// <summary>Depends on who sends or where to: not true of an ordinary program's DNS.</summary>
        Qualified,
    }

    private readonly record struct Probe(bool V6, string Protocol, int Port, string Interface)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Protocol}/{Port} {(V6 ? "IPv6" : "IPv4")} on {Interface}");
    }

    /// <summary>Judges <paramref name="rulesetJson"/> for DNS leaving by <paramref name="offPathInterfaces"/> (the interfaces that are neither loopback nor a tunnel).</summary>
    public static KillSwitchState Judge(string rulesetJson, IReadOnlyList<string> offPathInterfaces)
    {
        ArgumentNullException.ThrowIfNull(rulesetJson);
        ArgumentNullException.ThrowIfNull(offPathInterfaces);
        Ruleset ruleset;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(rulesetJson);
            ruleset = Ruleset.Read(doc.RootElement);
        }
        catch (JsonException e)
        {
            return Unreadable($"the ruleset listing is not JSON: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            return Unreadable($"the ruleset listing has an unexpected shape: {e.Message}");
        }

        // No interface off the path: still judge one nobody named, so a rule that names the safe ones is seen.
        IReadOnlyList<string> interfaces = offPathInterfaces.Count == 0 ? ["(other)"] : offPathInterfaces;
        var droppedBy = new SortedSet<string>(StringComparer.Ordinal);
        var exceptions = new SortedSet<string>(StringComparer.Ordinal);
        var gaps = new List<string>();
        int dropped = 0;
        int total = 0;
        foreach ((string _, bool v6) in s_families)
        {
            foreach (string protocol in s_protocols)
            {
                foreach (int port in s_ports)
                {
                    foreach (string iface in interfaces)
                    {
                        var probe = new Probe(v6, protocol, port, iface);
                        total++;
                        if (ruleset.Drops(probe, exceptions) is { } chain)
                        {
                            dropped++;
                            droppedBy.Add(chain);
                        }
                        else
                        {
                            gaps.Add(probe.ToString());
                        }
                    }
                }
            }
        }

        KillSwitchVerdict verdict = dropped == 0 ? KillSwitchVerdict.None : dropped == total ? KillSwitchVerdict.On : KillSwitchVerdict.Partial;
        return new KillSwitchState(verdict, [.. droppedBy], gaps, verdict == KillSwitchVerdict.None ? [] : [.. exceptions], null);
    }

    /// <summary>The state when the ruleset could not be listed at all.</summary>
    public static KillSwitchState Unreadable(string why) => new(KillSwitchVerdict.Unknown, [], [], [], why);

    private sealed class Ruleset
    {
        private readonly List<Chain> _baseChains = [];
        private readonly Dictionary<(string Family, string Table, string Chain), Chain> _chains = [];
        private readonly Dictionary<(string Family, string Table, string Set), JsonElement> _sets = [];

        public static Ruleset Read(JsonElement root)
        {
            var r = new Ruleset();
            if (!root.TryGetProperty("nftables", out JsonElement items) || items.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidOperationException("no \"nftables\" array");
            }

            foreach (JsonElement item in items.EnumerateArray())
            {
                if (item.TryGetProperty("chain", out JsonElement c))
                {
                    var chain = new Chain(Str(c, "family"), Str(c, "table"), Str(c, "name"), c);
                    r._chains[(chain.Family, chain.Table, chain.Name)] = chain;
                    if (chain.IsEgressBase)
                    {
                        r._baseChains.Add(chain);
                    }
                }
                else if (item.TryGetProperty("rule", out JsonElement rule)
                    && r._chains.TryGetValue((Str(rule, "family"), Str(rule, "table"), Str(rule, "chain")), out Chain? owner)
                    && rule.TryGetProperty("expr", out JsonElement expr))
                {
                    owner.Rules.Add(expr.Clone());
                }
                else if (item.TryGetProperty("set", out JsonElement set))
                {
                    r._sets[(Str(set, "family"), Str(set, "table"), Str(set, "name"))] = set.Clone();
                }
            }

            return r;
        }

        /// <summary>The base chain that drops the probe ("family table chain"), or null when none does.</summary>
        public string? Drops(Probe probe, ISet<string> exceptions)
        {
            foreach (Chain chain in _baseChains.Where(c => c.Sees(probe)))
            {
                var seen = new List<string>();
                Outcome outcome = Walk(chain, probe, seen, depth: 0);
                if (outcome == Outcome.Drop || (chain.PolicyDrops && outcome is Outcome.Continue or Outcome.Return))
                {
                    foreach (string s in seen)
                    {
                        exceptions.Add(s);
                    }

                    return $"{chain.Family} {chain.Table} {chain.Name}";
                }
            }

            return null;
        }

        private Outcome Walk(Chain chain, Probe probe, List<string> exceptions, int depth)
        {
            if (depth > 16)
            {
                return Outcome.Continue;
            }

            foreach (JsonElement rule in chain.Rules)
            {
                Match all = Match.Yes;
                Outcome verdict = Outcome.Continue;
                Chain? jump = null;
                bool isGoto = false;
                string qualifier = "";
                foreach (JsonElement statement in rule.EnumerateArray())
                {
                    if (statement.TryGetProperty("match", out JsonElement m))
                    {
                        Match one = Evaluate(m, probe, chain, out string why);
                        if (one == Match.No)
                        {
                            all = Match.No;
                            break;
                        }

                        if (one == Match.Qualified)
                        {
                            all = Match.Qualified;
                            qualifier += (qualifier.Length == 0 ? "" : " ") + why;
                        }
                    }
                    else if (statement.TryGetProperty("accept", out _))
                    {
                        verdict = Outcome.Accept;
                    }
                    else if (statement.TryGetProperty("drop", out _) || statement.TryGetProperty("reject", out _))
                    {
                        verdict = Outcome.Drop;
                    }
                    else if (statement.TryGetProperty("return", out _))
                    {
                        verdict = Outcome.Return;
                    }
                    else if ((statement.TryGetProperty("jump", out JsonElement j) || (isGoto = statement.TryGetProperty("goto", out j)))
                        && j.TryGetProperty("target", out JsonElement target))
                    {
                        _chains.TryGetValue((chain.Family, chain.Table, target.GetString() ?? ""), out jump);
                    }
                    else if (statement.TryGetProperty("xt", out _) || statement.TryGetProperty("vmap", out _) || statement.TryGetProperty("queue", out _))
                    {
                        // An iptables extension or a verdict map: not read; taken as not true of an ordinary program.
                        all = all == Match.No ? Match.No : Match.Qualified;
                        qualifier += (qualifier.Length == 0 ? "" : " ") + "an extension this reading does not follow";
                    }
                }

                if (all == Match.No)
                {
                    continue;
                }

                if (all == Match.Qualified)
                {
                    if (verdict == Outcome.Accept || jump is not null)
                    {
                        exceptions.Add(qualifier);
                    }

                    continue;
                }

                if (jump is not null)
                {
                    Outcome inner = Walk(jump, probe, exceptions, depth + 1);
                    if (inner is Outcome.Accept or Outcome.Drop)
                    {
                        return inner;
                    }

                    if (isGoto)
                    {
                        return Outcome.Return;
                    }

                    continue;
                }

                if (verdict != Outcome.Continue)
                {
                    return verdict;
                }
            }

            return Outcome.Continue;
        }

        private Match Evaluate(JsonElement m, Probe probe, Chain chain, out string why)
        {
            why = "";
            string op = m.TryGetProperty("op", out JsonElement o) ? o.GetString() ?? "==" : "==";
            if (!m.TryGetProperty("left", out JsonElement left) || !m.TryGetProperty("right", out JsonElement right))
            {
                return Match.No;
            }

            bool negate = op == "!=";
            if (op is not ("==" or "!=" or "in"))
            {
                why = "a comparison this reading does not follow";
                return Match.Qualified;
            }

            bool? result = null;
            if (left.TryGetProperty("meta", out JsonElement meta) && meta.TryGetProperty("key", out JsonElement key))
            {
                result = key.GetString() switch
                {
                    "oifname" or "oif" => Contains(right, chain, v => v is string s && NameMatches(s, probe.Interface)),
                    "l4proto" => Contains(right, chain, v => Equals(v, probe.Protocol) || Equals(v, probe.Protocol == "udp" ? 17 : 6)),
                    "nfproto" => Contains(right, chain, v => Equals(v, probe.V6 ? "ipv6" : "ipv4")),
                    _ => null,
                };
                why = "meta " + key.GetString() + " " + op + " " + right.GetRawText();
            }
            else if (left.TryGetProperty("payload", out JsonElement payload))
            {
                string protocol = Str(payload, "protocol");
                string field = Str(payload, "field");
                why = $"{protocol} {field} {op} {right.GetRawText()}";
                if (protocol is "ip" or "ip6" && (protocol == "ip6") != probe.V6)
                {
                    return Match.No;
                }

                result = (protocol, field) switch
                {
                    ("udp" or "tcp", _) when protocol != probe.Protocol => false,
                    ("udp" or "tcp" or "th", "dport") => Contains(right, chain, v => PortMatches(v, probe.Port)),
                    ("ip", "protocol") or ("ip6", "nexthdr") => Contains(right, chain, v => Equals(v, probe.Protocol)),
                    _ => null,
                };
            }
            else if (left.TryGetProperty("ct", out JsonElement ct) && Str(ct, "key") == "state")
            {
                // A probe is a new flow: a rule for established/related traffic is not about it.
                result = Contains(right, chain, v => Equals(v, "new"));
                why = "ct state " + op + " " + right.GetRawText();
            }

            if (result is null)
            {
                return Match.Qualified;
            }

            return result.Value != negate ? Match.Yes : Match.No;
        }

        /// <summary>Whether the right-hand side (a value, a set, a list, a named set) holds a value <paramref name="test"/> accepts.</summary>
        private bool Contains(JsonElement right, Chain chain, Func<object, bool> test)
        {
            switch (right.ValueKind)
            {
                case JsonValueKind.String:
                    string s = right.GetString() ?? "";
                    if (s.StartsWith('@'))
                    {
                        return _sets.TryGetValue((chain.Family, chain.Table, s[1..]), out JsonElement set)
                            && set.TryGetProperty("elem", out JsonElement elems) && Contains(elems, chain, test);
                    }

                    return test(s);
                case JsonValueKind.Number:
                    return right.TryGetInt32(out int n) && test(n);
                case JsonValueKind.Array:
                    return right.EnumerateArray().Any(e => Contains(e, chain, test));
                case JsonValueKind.Object when right.TryGetProperty("set", out JsonElement members):
                    return Contains(members, chain, test);
                case JsonValueKind.Object when right.TryGetProperty("range", out JsonElement range) && range.GetArrayLength() == 2:
                    return test(new PortRange(range[0].GetInt32(), range[1].GetInt32()));
                case JsonValueKind.Object when right.TryGetProperty("elem", out JsonElement elem) && elem.TryGetProperty("val", out JsonElement val):
                    return Contains(val, chain, test);
                default:
                    return false;
            }
        }

        private static bool PortMatches(object value, int port) => value switch
        {
            int n => n == port,
            PortRange r => r.From <= port && port <= r.To,
            string s => (s == "domain" && port == 53) || (s == "domain-s" && port == 853),
            _ => false,
        };

        /// <summary>nft interface names: exact, or a prefix ending in <c>*</c>.</summary>
        private static bool NameMatches(string pattern, string name) =>
            pattern.EndsWith('*') ? name.StartsWith(pattern[..^1], StringComparison.Ordinal) : pattern == name;
    }

    private readonly record struct PortRange(int From, int To);

    private sealed class Chain(string family, string table, string name, JsonElement json)
    {
        public string Family { get; } = family;

        public string Table { get; } = table;

        public string Name { get; } = name;

        public List<JsonElement> Rules { get; } = [];

        public bool PolicyDrops { get; } = Str(json, "policy") == "drop";

        private string Hook { get; } = Str(json, "hook");

        private string Type { get; } = Str(json, "type");

        private string[] Devices { get; } = Devs(json);

        /// <summary>A base chain every packet leaving by an interface meets: output or postrouting (filter/route), netdev egress.</summary>
        public bool IsEgressBase => Family == "netdev"
            ? Hook == "egress"
            : Hook is "output" or "postrouting" && Type is "filter" or "route" && Family is "ip" or "ip6" or "inet";

        public bool Sees(Probe probe) => Family switch
        {
            "ip" => !probe.V6,
            "ip6" => probe.V6,
            "netdev" => Devices.Contains(probe.Interface, StringComparer.Ordinal),
            _ => true,
        };

        private static string[] Devs(JsonElement c)
        {
            if (c.TryGetProperty("dev", out JsonElement d))
            {
                return d.ValueKind == JsonValueKind.Array ? [.. d.EnumerateArray().Select(e => e.GetString() ?? "")] : [d.GetString() ?? ""];
            }

            return [];
        }
    }

    private static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : "";
}
