using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.Json;
using DnsWarden.Leak.Enrich;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Rules;
using DnsWarden.Platform.Enforcement;
using DnsWarden.Platform.Network;
using DnsWarden.Policy;
using DnsWarden.Wire.Frames;
using Spectre.Console;

namespace DnsWarden.Cli.Leak;

/// <summary>
/// <c>dnsw leak status</c>: the interfaces, routes, policy rules and DNS configuration of this host (or of the
/// namespace it runs in) and what the leak detector would make of them under the chosen policy. docs/STATUS.md.
/// </summary>
internal static class StatusCommand
{
    /// <summary>Netlink could not be read: same status as a live capture that cannot start (no view of the network).</summary>
    private const int NetlinkError = ExitCodes.CaptureError;

    private const ushort DnsPort = 53;

    public static Command Build()
    {
        var policy = new PolicyOptions();
        var format = new Option<string>("--format")
        {
            Description = "human: tables; json: one JSON object (docs/STATUS.md).",
            DefaultValueFactory = _ => "human",
        };
        format.AcceptOnlyFromAmong("human", "json");
        var command = new Command("status", "Show interfaces, routes, policy rules, system DNS configuration and the active leak policy.")
        {
            format,
        };
        policy.AddTo(command);
        command.SetAction(parse =>
        {
            if (!policy.TryBuild(parse, out LeakPolicy? p, out string? error))
            {
                Console.Error.WriteLine("dnsw: " + error);
                return ExitCodes.Usage;
            }

            return Run(p!, parse.GetValue(format) == "json");
        });
        return command;
    }

    private static int Run(LeakPolicy policy, bool json)
    {
        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("dnsw: leak status reads rtnetlink and needs Linux");
            return NetlinkError;
        }

        if (!RtnetlinkClient.TryReadState(out NetworkState? state, out string? error))
        {
            Console.Error.WriteLine("dnsw: " + error);
            return NetlinkError;
        }

        SystemDnsConfiguration dns = SystemDnsConfiguration.Read();
        var status = Status.Build(policy, state!, dns);
        status.JudgeKillSwitch();
        if (json)
        {
            using Stream stdout = Console.OpenStandardOutput();
            using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Encoder = LeakEventJson.WriterOptions.Encoder, Indented = true }))
            {
                status.WriteJson(w);
            }

            stdout.WriteByte((byte)'\n');
        }
        else
        {
            status.Render(Terminal.Stdout);
        }

        return ExitCodes.Ok;
    }

    /// <summary>The link type the leak detector would see on a capture of this device.</summary>
    internal static LinkType CaptureLinkType(LinkInfo link) => link.IsRawIp ? LinkType.Raw : LinkType.Ethernet;

    private static string Family(AddressFamily f) => f == AddressFamily.InterNetworkV6 ? "inet6" : "inet";

    private static string Hex(uint v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);

    private sealed record InterfaceView(LinkInfo Link, IReadOnlyList<AddressInfo> Addresses, RouteClassResult Route, string Verdict, string VerdictText);

    private sealed record NameserverView(ResolvConfNameserver Server, RouteInfo? Route, string? Device, RouteClassResult? Class, bool SafeResolver, string Verdict, string VerdictText);

    private sealed class Status
    {
        private readonly LeakPolicy _policy;
        private readonly NetworkState _state;
        private readonly SystemDnsConfiguration _dns;
        private readonly RouteClassifier _classifier;

        private Status(LeakPolicy policy, NetworkState state, SystemDnsConfiguration dns)
        {
            _policy = policy;
            _state = state;
            _dns = dns;
            _classifier = new RouteClassifier(policy);
        }

        private List<InterfaceView> Interfaces { get; } = [];

        private List<NameserverView> Nameservers { get; } = [];

        private List<NameserverView> UpstreamNameservers { get; } = [];

        private KillSwitchState KillSwitch { get; set; } = DnsWarden.Leak.Enrich.KillSwitch.Unreadable("not read");

        private IReadOnlyList<string> LegacyTables { get; set; } = [];

        /// <summary>The kill switch: whether this namespace's firewall drops DNS leaving by an interface that is neither loopback nor a tunnel.</summary>
        [SupportedOSPlatform("linux")]
        public void JudgeKillSwitch()
        {
            string[] offPath = [.. Interfaces.Where(i => i.Route.Class is not (RouteClass.Loopback or RouteClass.Tunnel)).Select(i => i.Link.Name)];
            KillSwitch = FirewallListing.TryReadRuleset(out string json, out string? error)
                ? DnsWarden.Leak.Enrich.KillSwitch.Judge(json, offPath)
                : DnsWarden.Leak.Enrich.KillSwitch.Unreadable(error!);
            LegacyTables = FirewallListing.LegacyTables();
        }

        private string KillSwitchLine() => KillSwitch.Describe()
            + (LegacyTables.Count == 0 ? "" : $" (iptables-legacy tables not read: {string.Join(", ", LegacyTables)})");

        public static Status Build(LeakPolicy policy, NetworkState state, SystemDnsConfiguration dns)
        {
            var s = new Status(policy, state, dns);
            foreach (LinkInfo link in state.Links.OrderBy(l => l.Index))
            {
                RouteClassResult route = s._classifier.Classify(link.Name, CaptureLinkType(link));
                (string verdict, string text) = s.InterfaceVerdict(link.Name, route);
                s.Interfaces.Add(new InterfaceView(link, [.. state.Addresses.Where(a => a.InterfaceIndex == link.Index)], route, verdict, text));
            }

            foreach (ResolvConfNameserver ns in dns.ResolvConf?.Nameservers ?? [])
            {
                s.Nameservers.Add(s.JudgeNameserver(ns));
            }

            foreach (ResolvConfNameserver ns in dns.ResolvedUpstream?.Nameservers ?? [])
            {
                s.UpstreamNameservers.Add(s.JudgeNameserver(ns));
            }

            return s;
        }

        private (string Verdict, string Text) InterfaceVerdict(string name, RouteClassResult route)
        {
            string profile = Profiles.Name(_policy.Profile);
            string cls = RouteClassifier.Name(route.Class);
            if (_policy.IsSafeInterface(name, route.Class))
            {
                string why = _policy.SafeRouteClasses.Contains(route.Class) ? $"{cls} is a safe route class" : "it is a safe interface";
                return ("safe", $"DNS on {name} stays on the safe path under {profile}: {why}");
            }

            return OffSafePath($"DNS on {name}", $"{cls} ({route.Reason}) is not a safe route class or safe interface", route.Class, exceptions: true);
        }

        /// <summary>
        /// What plaintext DNS that leaves by an unsafe path would be, by the detector's own rule (<see cref="PlaintextRule"/>):
        /// Leak-A, or under <c>split</c> nothing for ordinary names and Leak-B for the proxy-required ones.
        /// </summary>
        private (string Verdict, string Text) OffSafePath(string subject, string? reason, RouteClass routeClass, bool exceptions)
        {
            string profile = Profiles.Name(_policy.Profile);
            string verdict;
            string text;
            if (PlaintextRule.OffSafePath(_policy.Profile, routeClass, proxyRequired: false) is not null)
            {
                verdict = "leak-a";
                text = $"{subject} would be Leak-A under {profile}" + (reason is null ? "" : ": " + reason);
            }
            else if (PlaintextRule.AnyProxyRequired(_policy.Split))
            {
                string names = _policy.Split.Default == SplitDefault.Proxy
                    ? "every name not in direct_domains"
                    : "names under " + string.Join(", ", _policy.Split.ProxyDomains.Rules);
                verdict = "leak-b";
                text = $"{subject} {(reason is null ? "go" : "is")} direct under {profile}: ordinary names may resolve there, but {names} would be Leak-B" + (reason is null ? "" : $" ({reason})");
            }
            else
            {
                return ("direct", $"{subject} {(reason is null ? "go" : "is")} direct under {profile}: no name is proxy-required, so ordinary names may resolve there");
            }

            var unless = new List<string>();
            if (exceptions && _policy.SafeResolvers.Count > 0)
            {
                unless.Add("sent to a safe resolver (" + string.Join(", ", _policy.SafeResolvers) + ")");
            }

            if (_policy.AllowedProcesses.Count > 0)
            {
                unless.Add("sent by an allowed process (" + string.Join(", ", _policy.AllowedProcesses) + ")");
            }

            return unless.Count == 0 ? (verdict, text) : (verdict + "-unless", text + ", unless " + string.Join(" or ", unless));
        }

        private NameserverView JudgeNameserver(ResolvConfNameserver ns)
        {
            RouteInfo? route = RouteLookup.Lookup(_state.Routes, ns.Address);
            int index = route is null ? 0 : route.OutputInterfaceIndex != 0 ? route.OutputInterfaceIndex : route.NextHops.FirstOrDefault()?.InterfaceIndex ?? 0;
            string? device = index == 0 ? null : _state.NameOf(index);
            LinkInfo? link = index == 0 ? null : _state.LinkByIndex(index);
            RouteClassResult? cls = device is null ? null : _classifier.Classify(device, link is null ? LinkType.Ethernet : CaptureLinkType(link));
            bool safeResolver = _policy.IsSafeResolver(ns.Address, DnsPort);
            string who = ns.ToString();
            if (ns.Ignored)
            {
                return new(ns, route, device, cls, safeResolver, "unused", $"{who} is never asked: glibc uses only the first {ResolvConf.MaxNameservers} nameservers");
            }

            if (safeResolver)
            {
                return new(ns, route, device, cls, safeResolver, "safe", $"{who} is a safe resolver");
            }

            if (route is null || device is null)
            {
                string type = route is null ? "no route" : RouteInfo.TypeName(route.Type) + " route";
                return new(ns, route, device, cls, safeResolver, "unreachable", $"{who}: {type} in the local/main tables");
            }

            string className = RouteClassifier.Name(cls!.Value.Class);
            if (_policy.IsSafeInterface(device, cls.Value.Class))
            {
                return new(ns, route, device, cls, safeResolver, "safe", $"{who} is reached via {device} ({className}): safe path");
            }

            (string verdict, string text) = OffSafePath("queries to it", reason: null, cls.Value.Class, exceptions: false);
            return new(ns, route, device, cls, safeResolver, verdict, $"{who} is reached via {device} ({className}): {text}");
        }

        public void WriteJson(Utf8JsonWriter w)
        {
            w.WriteStartObject();
            w.WriteString("event", "status");
            w.WriteStartArray("interfaces");
            foreach (InterfaceView i in Interfaces)
            {
                LinkInfo l = i.Link;
                w.WriteStartObject();
                w.WriteString("name", l.Name);
                w.WriteNumber("index", l.Index);
                w.WriteString("state", l.IsUp ? "up" : "down");
                w.WriteBoolean("lower_up", l.IsLowerUp);
                w.WriteString("operstate", l.OperStateName);
                w.WriteString("kind", l.KindName);
                w.WriteNumber("arphrd", l.HardwareType);
                w.WriteNumber("flags", l.Flags);
                w.WriteNumber("mtu", l.Mtu);
                w.WriteStartArray("addresses");
                foreach (AddressInfo a in i.Addresses)
                {
                    w.WriteStartObject();
                    w.WriteString("family", Family(a.Address.AddressFamily));
                    w.WriteString("address", a.Address.ToString());
                    w.WriteNumber("prefix", a.PrefixLength);
                    w.WriteString("scope", RouteInfo.ScopeName(a.Scope));
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteString("route_class", RouteClassifier.Name(i.Route.Class));
                w.WriteString("route_class_reason", i.Route.Reason);
                w.WriteString("dns_verdict", i.Verdict);
                w.WriteString("verdict", i.VerdictText);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("routes");
            foreach (RouteInfo r in _state.Routes)
            {
                w.WriteStartObject();
                w.WriteString("family", Family(r.Family));
                w.WriteString("table", RouteInfo.TableName(r.Table));
                w.WriteNumber("table_id", r.Table);
                w.WriteString("dst", r.DestinationText);
                w.WriteBoolean("default", r.IsDefault);
                WriteStringOrNull(w, "gateway", r.Gateway?.ToString());
                WriteStringOrNull(w, "dev", r.OutputInterfaceIndex == 0 ? null : _state.NameOf(r.OutputInterfaceIndex) ?? "if" + N(r.OutputInterfaceIndex));
                if (r.Metric is { } metric)
                {
                    w.WriteNumber("metric", metric);
                }
                else
                {
                    w.WriteNull("metric");
                }

                w.WriteString("protocol", RouteInfo.ProtocolName(r.Protocol));
                w.WriteString("scope", RouteInfo.ScopeName(r.Scope));
                w.WriteString("type", RouteInfo.TypeName(r.Type));
                WriteStringOrNull(w, "prefsrc", r.PreferredSource?.ToString());
                if (r.NextHops.Count > 0)
                {
                    w.WriteStartArray("nexthops");
                    foreach (RouteNextHop h in r.NextHops)
                    {
                        w.WriteStartObject();
                        WriteStringOrNull(w, "gateway", h.Gateway?.ToString());
                        WriteStringOrNull(w, "dev", _state.NameOf(h.InterfaceIndex));
                        w.WriteNumber("weight", h.Weight + 1);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("rules");
            foreach (RuleInfo r in _state.Rules)
            {
                w.WriteStartObject();
                w.WriteString("family", Family(r.Family));
                w.WriteNumber("priority", r.Priority);
                w.WriteBoolean("not", r.Invert);
                w.WriteString("from", RuleInfo.Selector(r.From, r.FromLength, r.Family));
                w.WriteString("to", RuleInfo.Selector(r.To, r.ToLength, r.Family));
                WriteStringOrNull(w, "iif", r.InputInterface);
                WriteStringOrNull(w, "oif", r.OutputInterface);
                WriteStringOrNull(w, "fwmark", r.Fwmark is { } mark ? Hex(mark) : null);
                WriteStringOrNull(w, "fwmask", r.FwMask is { } mask ? Hex(mask) : null);
                if (r.UidRange is { } uids)
                {
                    w.WriteStartObject("uidrange");
                    w.WriteNumber("start", uids.Start);
                    w.WriteNumber("end", uids.End);
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNull("uidrange");
                }

                w.WriteString("action", RuleInfo.ActionName(r.Action));
                w.WriteString("table", RouteInfo.TableName(r.Table));
                w.WriteNumber("table_id", r.Table);
                if (r.Goto is { } target)
                {
                    w.WriteNumber("goto", target);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("dns");
            w.WriteStartObject("resolv_conf");
            w.WriteString("path", _dns.ResolvConfPath);
            WriteStringOrNull(w, "error", _dns.ResolvConfError);
            if (_dns.ResolvConf is { } conf)
            {
                WriteResolvConf(w, conf, Nameservers);
            }

            w.WriteEndObject();
            w.WriteStartObject("systemd_resolved");
            w.WriteBoolean("present", _dns.SystemdResolvedPresent);
            if (_dns.ResolvedUpstream is { } upstream)
            {
                w.WriteStartObject("upstream_resolv_conf");
                w.WriteString("path", ResolvedStatus.UpstreamResolvConf);
                WriteResolvConf(w, upstream, UpstreamNameservers);
                w.WriteEndObject();
            }

            if (_dns.ResolvedScopes is { } scopes)
            {
                w.WriteBoolean("resolvectl_best_effort", true);
                w.WriteStartArray("resolvectl");
                foreach (ResolvedScope scope in scopes)
                {
                    w.WriteStartObject();
                    w.WriteString("scope", scope.Name);
                    if (scope.InterfaceIndex is { } ix)
                    {
                        w.WriteNumber("ifindex", ix);
                    }

                    WriteStringOrNull(w, "current_server", scope.CurrentServer);
                    WriteStrings(w, "servers", scope.Servers);
                    WriteStrings(w, "domains", scope.Domains);
                    WriteStrings(w, "protocols", scope.Protocols);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
            w.WriteEndObject();
            WritePolicy(w);
            WriteKillSwitch(w);
            w.WriteEndObject();
        }

        private void WriteKillSwitch(Utf8JsonWriter w)
        {
            w.WriteStartObject("kill_switch");
            w.WriteString("state", KillSwitch.VerdictName);
            w.WriteBoolean("leak_a_possible", KillSwitch.Verdict != KillSwitchVerdict.On);
            w.WriteString("line", KillSwitchLine());
            WriteStrings(w, "dropped_by", KillSwitch.DroppedBy);
            WriteStrings(w, "not_dropped", KillSwitch.Gaps);
            WriteStrings(w, "exceptions", KillSwitch.Exceptions);
            WriteStrings(w, "iptables_legacy_tables", LegacyTables);
            WriteStringOrNull(w, "error", KillSwitch.Error);
            w.WriteEndObject();
        }

        private static void WriteResolvConf(Utf8JsonWriter w, ResolvConf conf, List<NameserverView> views)
        {
            w.WriteBoolean("systemd_stub", conf.UsesSystemdStub);
            w.WriteStartArray("nameservers");
            foreach (NameserverView v in views)
            {
                w.WriteStartObject();
                w.WriteString("address", v.Server.Address.ToString());
                WriteStringOrNull(w, "zone", v.Server.Zone);
                w.WriteNumber("line", v.Server.Line);
                w.WriteBoolean("ignored", v.Server.Ignored);
                w.WriteBoolean("systemd_stub", v.Server.IsSystemdStub);
                w.WriteBoolean("safe_resolver", v.SafeResolver);
                if (v.Route is { } r)
                {
                    w.WriteStartObject("route");
                    w.WriteString("table", RouteInfo.TableName(r.Table));
                    w.WriteString("dst", r.DestinationText);
                    WriteStringOrNull(w, "gateway", r.Gateway?.ToString());
                    WriteStringOrNull(w, "dev", v.Device);
                    w.WriteString("type", RouteInfo.TypeName(r.Type));
                    WriteStringOrNull(w, "route_class", v.Class is { } c ? RouteClassifier.Name(c.Class) : null);
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNull("route");
                }

                w.WriteString("dns_verdict", v.Verdict);
                w.WriteString("verdict", v.VerdictText);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteStringOrNull(w, "search_keyword", conf.SearchKeyword);
            WriteStrings(w, "search", conf.Search);
            WriteStrings(w, "options", [.. conf.Options.Select(o => o.ToString())]);
            WriteStrings(w, "sortlist", conf.SortList);
            w.WriteStartArray("problems");
            foreach (ResolvConfProblem p in conf.Problems)
            {
                w.WriteStartObject();
                w.WriteNumber("line", p.Line);
                w.WriteString("text", p.Text);
                w.WriteString("reason", p.Reason);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        private void WritePolicy(Utf8JsonWriter w)
        {
            LeakPolicy p = _policy;
            w.WriteStartObject("policy");
            w.WriteString("source", p.Source);
            w.WriteString("profile", Profiles.Name(p.Profile));
            WriteStrings(w, "safe_route_classes", [.. p.SafeRouteClasses.Select(RouteClassifier.Name)]);
            WriteStrings(w, "safe_interfaces", [.. p.SafeInterfaces.Select(i => i.Pattern)]);
            w.WriteStartArray("interface_hints");
            foreach (InterfaceHint h in p.InterfaceClasses)
            {
                w.WriteStartObject();
                w.WriteString("pattern", h.Pattern.Pattern);
                w.WriteString("route_class", RouteClassifier.Name(h.Class));
                w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteStrings(w, "safe_resolvers", [.. p.SafeResolvers.Select(r => r.ToString())]);
            WriteStrings(w, "allowed_processes", p.AllowedProcesses);
            w.WriteStartArray("allowed_ports");
            foreach (ushort port in p.AllowedPorts)
            {
                w.WriteNumberValue(port);
            }

            w.WriteEndArray();
            w.WriteStartObject("split");
            w.WriteNumber("proxy_domains", p.Split.ProxyDomains.Count);
            w.WriteNumber("direct_domains", p.Split.DirectDomains.Count);
            w.WriteString("default", p.Split.Default == SplitDefault.Proxy ? "proxy" : "direct");
            w.WriteEndObject();
            w.WriteStartObject("encrypted_dns");
            WriteStrings(w, "approved_egress", [.. p.EncryptedDns.ApprovedEgress.Select(r => r.ToString())]);
            WriteStrings(w, "approved_hosts", p.EncryptedDns.ApprovedHosts.Rules);
            w.WriteString("endpoints_version", p.EncryptedDns.Endpoints.Version);
            w.WriteNumber("endpoint_providers", p.EncryptedDns.Endpoints.Providers.Count);
            w.WriteNumber("endpoint_hosts", p.EncryptedDns.Endpoints.HostCount);
            w.WriteNumber("endpoint_addresses", p.EncryptedDns.Endpoints.AddressCount);
            w.WriteEndObject();
            ExfiltrationPolicy x = p.Exfiltration;
            w.WriteStartObject("exfiltration");
            w.WriteNumber("window_seconds", x.Window.TotalSeconds);
            w.WriteNumber("min_queries", x.MinQueries);
            w.WriteNumber("min_unique_subdomains", x.MinUniqueSubdomains);
            w.WriteNumber("min_entropy", x.MinEntropy);
            w.WriteNumber("long_label", x.LongLabel);
            w.WriteNumber("long_name", x.LongName);
            w.WriteNumber("txt_null_share", x.TxtNullShare);
            w.WriteNumber("nxdomain_share", x.NxdomainShare);
            w.WriteNumber("score_threshold", x.ScoreThreshold);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        private static void WriteStringOrNull(Utf8JsonWriter w, string name, string? value)
        {
            if (value is null)
            {
                w.WriteNull(name);
            }
            else
            {
                w.WriteString(name, value);
            }
        }

        private static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> values)
        {
            w.WriteStartArray(name);
            foreach (string v in values)
            {
                w.WriteStringValue(v);
            }

            w.WriteEndArray();
        }

        public void Render(IAnsiConsole console)
        {
            var interfaces = new Table().Border(TableBorder.Rounded).Title("interfaces");
            foreach (string c in new[] { "name", "index", "state", "kind", "mtu", "addresses", "route class", "DNS" })
            {
                interfaces.AddColumn(c);
            }

            foreach (InterfaceView i in Interfaces)
            {
                LinkInfo l = i.Link;
                string state = (l.IsUp ? "up" : "down") + (l.IsLowerUp ? ", lower-up" : "");
                interfaces.AddRow(
                    Markup.Escape(l.Name), N(l.Index), state, Markup.Escape(l.KindName), N(l.Mtu),
                    Markup.Escape(string.Join("\n", i.Addresses.Select(a => a.ToString()))),
                    RouteClassifier.Name(i.Route.Class),
                    i.Verdict == "safe" ? "[green]safe[/]" : i.Verdict == "direct" ? "[yellow]direct[/]" : "[red]" + Markup.Escape(i.Verdict) + "[/]");
            }

            console.Write(interfaces);
            foreach (InterfaceView i in Interfaces)
            {
                console.MarkupLine("  " + Markup.Escape(i.VerdictText));
            }

            string colour = KillSwitch.Verdict == KillSwitchVerdict.On ? "green" : "red";
            console.MarkupLine($"  [{colour}]{Markup.Escape(KillSwitchLine())}[/]");

            var routes = new Table().Border(TableBorder.Rounded).Title("routes (* default)");
            foreach (string c in new[] { "", "table", "destination", "gateway", "dev", "metric", "proto", "type" })
            {
                routes.AddColumn(c);
            }

            foreach (RouteInfo r in _state.Routes.OrderBy(r => r.Family).ThenBy(r => r.Table == RouteInfo.TableMain ? 0 : r.Table == RouteInfo.TableLocal ? 2 : 1).ThenBy(r => r.Table))
            {
                string dev = r.OutputInterfaceIndex != 0 ? _state.NameOf(r.OutputInterfaceIndex) ?? "if" + N(r.OutputInterfaceIndex)
                    : string.Join(",", r.NextHops.Select(h => _state.NameOf(h.InterfaceIndex) ?? "-"));
                routes.AddRow(
                    r.IsDefault ? "*" : "", RouteInfo.TableName(r.Table), Markup.Escape(r.DestinationText), Markup.Escape(r.Gateway?.ToString() ?? ""),
                    Markup.Escape(dev), r.Metric is { } m ? N(m) : "", RouteInfo.ProtocolName(r.Protocol), RouteInfo.TypeName(r.Type));
            }

            console.Write(routes);
            var rules = new Table().Border(TableBorder.Rounded).Title("policy routing rules");
            foreach (string c in new[] { "family", "priority", "selectors", "action" })
            {
                rules.AddColumn(c);
            }

            foreach (RuleInfo r in _state.Rules)
            {
                rules.AddRow(Family(r.Family), N(r.Priority), Markup.Escape(Selectors(r)), Markup.Escape(Action(r)));
            }

            console.Write(rules);
            RenderDns(console);
            RenderPolicy(console);
        }

        private static string Selectors(RuleInfo r)
        {
            var parts = new List<string>();
            if (r.Invert)
            {
                parts.Add("not");
            }

            parts.Add("from " + RuleInfo.Selector(r.From, r.FromLength, r.Family));
            if (r.To is not null && r.ToLength > 0)
            {
                parts.Add("to " + RuleInfo.Selector(r.To, r.ToLength, r.Family));
            }

            if (r.InputInterface is { } iif)
            {
                parts.Add("iif " + iif);
            }

            if (r.OutputInterface is { } oif)
            {
                parts.Add("oif " + oif);
            }

            if (r.Fwmark is { } mark)
            {
                parts.Add("fwmark " + Hex(mark) + (r.FwMask is { } mask && mask != uint.MaxValue ? "/" + Hex(mask) : ""));
            }

            if (r.UidRange is { } u)
            {
                parts.Add($"uidrange {N(u.Start)}-{N(u.End)}");
            }

            return string.Join(" ", parts);
        }

        private static string Action(RuleInfo r) => r.Action switch
        {
            1 => "lookup " + RouteInfo.TableName(r.Table),
            2 => "goto " + (r.Goto is { } g ? N(g) : "?"),
            _ => RuleInfo.ActionName(r.Action),
        };

        private void RenderDns(IAnsiConsole console)
        {
            if (_dns.ResolvConf is not { } conf)
            {
                console.MarkupLine($"[red]{Markup.Escape(_dns.ResolvConfPath)}: {Markup.Escape(_dns.ResolvConfError ?? "unreadable")}[/]");
            }
            else
            {
                RenderResolvConf(console, _dns.ResolvConfPath, conf, Nameservers);
                if (conf.UsesSystemdStub)
                {
                    console.MarkupLine("  [yellow]points at the systemd-resolved stub (127.0.0.53): the upstream servers are resolved's own, below[/]");
                }
            }

            if (_dns.ResolvedUpstream is { } upstream)
            {
                RenderResolvConf(console, ResolvedStatus.UpstreamResolvConf, upstream, UpstreamNameservers);
            }

            if (_dns.ResolvedScopes is { } scopes)
            {
                var table = new Table().Border(TableBorder.Rounded).Title("systemd-resolved (resolvectl status, best effort)");
                table.AddColumn("scope");
                table.AddColumn("current");
                table.AddColumn("servers");
                table.AddColumn("domains");
                foreach (ResolvedScope s in scopes)
                {
                    table.AddRow(Markup.Escape(s.Name), Markup.Escape(s.CurrentServer ?? ""), Markup.Escape(string.Join("\n", s.Servers)), Markup.Escape(string.Join(" ", s.Domains)));
                }

                console.Write(table);
            }
        }

        private static void RenderResolvConf(IAnsiConsole console, string path, ResolvConf conf, List<NameserverView> views)
        {
            var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(path));
            table.AddColumn("line");
            table.AddColumn("nameserver");
            table.AddColumn("route");
            table.AddColumn("DNS");
            foreach (NameserverView v in views)
            {
                string route = v.Route is null ? "none" : $"{RouteInfo.TableName(v.Route.Table)} {v.Route.DestinationText}" + (v.Device is null ? "" : " dev " + v.Device)
                    + (v.Class is { } c ? " (" + RouteClassifier.Name(c.Class) + ")" : "");
                string verdict = v.Verdict == "safe" ? "[green]safe[/]" : v.Verdict == "unused" ? "[grey]unused[/]" : v.Verdict == "direct" ? "[yellow]direct[/]" : "[red]" + Markup.Escape(v.Verdict) + "[/]";
                table.AddRow(N(v.Server.Line), Markup.Escape(v.Server.ToString()), Markup.Escape(route), verdict);
            }

            console.Write(table);
            foreach (NameserverView v in views)
            {
                console.MarkupLine("  " + Markup.Escape(v.VerdictText));
            }

            console.MarkupLine($"  {conf.SearchKeyword ?? "search"}: {Markup.Escape(conf.Search.Count == 0 ? "-" : string.Join(" ", conf.Search))}");
            console.MarkupLine($"  options: {Markup.Escape(conf.Options.Count == 0 ? "-" : string.Join(" ", conf.Options))}");
            foreach (ResolvConfProblem p in conf.Problems)
            {
                console.MarkupLine($"  [yellow]{Markup.Escape(path)}:{Markup.Escape(p.ToString())}[/]");
            }
        }

        private void RenderPolicy(IAnsiConsole console)
        {
            LeakPolicy p = _policy;
            var grid = new Table().Border(TableBorder.Rounded).Title("active policy");
            grid.AddColumn("setting");
            grid.AddColumn("value");

            void Row(string k, string v) => grid.AddRow(Markup.Escape(k), Markup.Escape(v.Length == 0 ? "-" : v));

            Row("source", p.Source);
            Row("profile", Profiles.Name(p.Profile));
            Row("safe route classes", string.Join(", ", p.SafeRouteClasses.Select(RouteClassifier.Name)));
            Row("safe interfaces", string.Join(", ", p.SafeInterfaces));
            Row("interface hints", string.Join(", ", p.InterfaceClasses.Select(h => h.Pattern + "=" + RouteClassifier.Name(h.Class))));
            Row("safe resolvers", string.Join(", ", p.SafeResolvers));
            Row("allowed processes", string.Join(", ", p.AllowedProcesses));
            Row("allowed ports", string.Join(", ", p.AllowedPorts));
            Row("split", $"{N(p.Split.ProxyDomains.Count)} proxy-required, {N(p.Split.DirectDomains.Count)} direct, default {(p.Split.Default == SplitDefault.Proxy ? "proxy" : "direct")}");
            Row("encrypted DNS egress", string.Join(", ", p.EncryptedDns.ApprovedEgress.Select(e => e.ToString()).Concat(p.EncryptedDns.ApprovedHosts.Rules)));
            Row("endpoint list", $"{p.EncryptedDns.Endpoints.Version}: {N(p.EncryptedDns.Endpoints.Providers.Count)} providers, {N(p.EncryptedDns.Endpoints.HostCount)} hosts, {N(p.EncryptedDns.Endpoints.AddressCount)} addresses");
            ExfiltrationPolicy x = p.Exfiltration;
            Row("exfiltration", string.Create(CultureInfo.InvariantCulture,
                $"window {x.Window.TotalSeconds} s, ≥{x.MinQueries} queries, ≥{x.MinUniqueSubdomains} unique, entropy ≥{x.MinEntropy}, label ≥{x.LongLabel}, name ≥{x.LongName}, TXT/NULL ≥{x.TxtNullShare:P0}, NXDOMAIN ≥{x.NxdomainShare:P0}, score ≥{x.ScoreThreshold}"));
            console.Write(grid);
        }
    }
}
