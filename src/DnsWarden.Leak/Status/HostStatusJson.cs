using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using DnsWarden.Leak.Enrich;
using DnsWarden.Platform.Network;
using DnsWarden.Policy;

namespace DnsWarden.Leak.Status;

/// <summary><c>leak status --format json</c>: one object with the interfaces, routes, rules, DNS configuration, policy and kill switch (docs/STATUS.md).</summary>
public static class HostStatusJson
{
    /// <summary>iproute2's word for an address family.</summary>
    public static string Family(AddressFamily f) => f == AddressFamily.InterNetworkV6 ? "inet6" : "inet";

    /// <summary>A mark or mask as iproute2 prints it.</summary>
    public static string Hex(uint v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>Writes <paramref name="status"/> as one JSON object.</summary>
    public static void Write(Utf8JsonWriter w, HostStatus status)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(status);
        w.WriteStartObject();
        w.WriteString("event", "status");
        w.WriteStartArray("interfaces");
        foreach (InterfaceStatus i in status.Interfaces)
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
        foreach (RouteInfo r in status.State.Routes)
        {
            w.WriteStartObject();
            w.WriteString("family", Family(r.Family));
            w.WriteString("table", RouteInfo.TableName(r.Table));
            w.WriteNumber("table_id", r.Table);
            w.WriteString("dst", r.DestinationText);
            w.WriteBoolean("default", r.IsDefault);
            WriteStringOrNull(w, "gateway", r.Gateway?.ToString());
            WriteStringOrNull(w, "dev", r.OutputInterfaceIndex == 0 ? null : status.State.NameOf(r.OutputInterfaceIndex) ?? "if" + r.OutputInterfaceIndex.ToString(CultureInfo.InvariantCulture));
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
                    WriteStringOrNull(w, "dev", status.State.NameOf(h.InterfaceIndex));
                    w.WriteNumber("weight", h.Weight + 1);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("rules");
        foreach (RuleInfo r in status.State.Rules)
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
        w.WriteString("path", status.Dns.ResolvConfPath);
        WriteStringOrNull(w, "error", status.Dns.ResolvConfError);
        if (status.Dns.ResolvConf is { } conf)
        {
            WriteResolvConf(w, conf, status.Nameservers);
        }

        w.WriteEndObject();
        w.WriteStartObject("systemd_resolved");
        w.WriteBoolean("present", status.Dns.SystemdResolvedPresent);
        if (status.Dns.ResolvedUpstream is { } upstream)
        {
            w.WriteStartObject("upstream_resolv_conf");
            w.WriteString("path", ResolvedStatus.UpstreamResolvConf);
            WriteResolvConf(w, upstream, status.UpstreamNameservers);
            w.WriteEndObject();
        }

        if (status.Dns.ResolvedScopes is { } scopes)
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
        WritePolicy(w, status.Policy);
        WriteKillSwitch(w, status);
        w.WriteEndObject();
    }

    private static void WriteKillSwitch(Utf8JsonWriter w, HostStatus status)
    {
        w.WriteStartObject("kill_switch");
        w.WriteString("state", status.KillSwitch.VerdictName);
        w.WriteBoolean("leak_a_possible", status.KillSwitch.Verdict != KillSwitchVerdict.On);
        w.WriteString("line", status.KillSwitchLine);
        WriteStrings(w, "dropped_by", status.KillSwitch.DroppedBy);
        WriteStrings(w, "not_dropped", status.KillSwitch.Gaps);
        WriteStrings(w, "exceptions", status.KillSwitch.Exceptions);
        WriteStrings(w, "iptables_legacy_tables", status.LegacyTables);
        WriteStringOrNull(w, "error", status.KillSwitch.Error);
        w.WriteEndObject();
    }

    private static void WriteResolvConf(Utf8JsonWriter w, ResolvConf conf, IReadOnlyList<NameserverStatus> views)
    {
        w.WriteBoolean("systemd_stub", conf.UsesSystemdStub);
        w.WriteStartArray("nameservers");
        foreach (NameserverStatus v in views)
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

    private static void WritePolicy(Utf8JsonWriter w, LeakPolicy p)
    {
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
}
