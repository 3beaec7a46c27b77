using System.Text.Json;
using DnsWarden.Indicators;

namespace DnsWarden.Leak.Events;

/// <summary>
/// A leak event as one Elastic Common Schema line (docs/ECS.md), mapped from the model — the same event
/// <see cref="LeakEventJson"/> writes, after the same privacy filter. Fields with no value are left out (the ECS
/// convention), never written as null; what ECS has no field for goes under <c>dnsw</c>.
/// </summary>
public static class LeakEventEcs
{
    public const string Dataset = "dnsw.leak";

    /// <summary><c>event.severity</c>: P0 → 1 … P3 → 4, lower is worse (as Suricata's alert severity, which Filebeat passes through).</summary>
    public static int SeverityNumber(Severity severity) => (int)severity + 1;

    /// <summary><c>event.risk_score</c>: Elastic's critical/high/medium/low scores, so alerts sort with the Security app's.</summary>
    public static int RiskScore(Severity severity) => severity switch
    {
        Severity.P0 => 99,
        Severity.P1 => 73,
        Severity.P2 => 47,
        _ => 21,
    };

    /// <summary><c>event.action</c> and <c>rule.name</c>: <c>leak-a</c>/<c>Leak-A</c> … or <c>exfiltration</c>.</summary>
    public static string RuleName(LeakEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.LeakType is { } t ? "Leak-" + t : e.Kind;
    }

    /// <summary>The transport layer of a dnsw transport; null when the name does not say (DoH runs over TCP or QUIC).</summary>
    public static string? NetworkTransport(string transport) => transport switch
    {
        "udp53" or "doq" => "udp",
        "tcp53" or "dot" => "tcp",
        _ => null,
    };

    public static void Write(Utf8JsonWriter w, LeakEvent e) => Write(w, e, BaseDomains.Default);

    public static void Write(Utf8JsonWriter w, LeakEvent e, BaseDomains baseDomains)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(baseDomains);

        w.WriteStartObject();
        EcsJson.WriteHeader(w, LeakEventJson.FormatTime(e.Timestamp));
        string rule = RuleName(e);
        EcsJson.StartEvent(w, "alert", rule.ToLowerInvariant(), Dataset, "protocol");
        w.WriteNumber("severity"u8, SeverityNumber(e.Severity));
        w.WriteNumber("risk_score"u8, RiskScore(e.Severity));
        if (e.Evidence.Count > 0)
        {
            w.WriteString("reason"u8, e.Evidence[0]);
        }

        w.WriteEndObject();

        w.WriteStartObject("rule"u8);
        w.WriteString("name"u8, rule);
        w.WriteString("ruleset"u8, EcsJson.CustomObject);
        w.WriteEndObject();

        w.WriteStartObject("observer"u8);
        w.WriteStartObject("ingress"u8);
        w.WriteStartObject("interface"u8);
        w.WriteString("name"u8, e.Interface);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();

        EcsEndpoint? source = e.Source is { } s ? EcsJson.ParseEndpoint(s) : null;
        EcsEndpoint destination = EcsJson.ParseEndpoint(e.Destination);
        if (source is { } src)
        {
            EcsJson.StartEndpoint(w, "source", src);
        }

        EcsJson.StartEndpoint(w, "destination", destination, close: false);
        if (e.GeoIp is { } g)
        {
            if (g.CountryCode is not null || g.CountryName is not null)
            {
                w.WriteStartObject("geo"u8);
                WriteIfPresent(w, "country_iso_code"u8, g.CountryCode);
                WriteIfPresent(w, "country_name"u8, g.CountryName);
                w.WriteEndObject();
            }

            if (g.Asn is not null || g.AsOrganization is not null)
            {
                w.WriteStartObject("as"u8);
                if (g.Asn is { } asn)
                {
                    w.WriteNumber("number"u8, asn);
                }

                if (g.AsOrganization is { } org)
                {
                    w.WriteStartObject("organization"u8);
                    w.WriteString("name"u8, org);
                    w.WriteEndObject();
                }

                w.WriteEndObject();
            }
        }

        w.WriteEndObject();

        w.WriteStartObject("network"u8);
        WriteIfPresent(w, "transport"u8, NetworkTransport(e.Transport));
        w.WriteString("protocol"u8, "dns"u8);
        if (destination.Ip is { } dip)
        {
            w.WriteString("type"u8, EcsJson.NetworkType(dip));
        }

        w.WriteEndObject();

        string? registered = e.Exfiltration?.BaseDomain ?? EcsJson.RegisteredDomain(e.QName, baseDomains);
        if (e.QName is not null || e.QType is not null || registered is not null)
        {
            w.WriteStartObject("dns"u8);
            w.WriteString("type"u8, "query"u8);
            w.WriteStartObject("question"u8);
            WriteIfPresent(w, "name"u8, e.QName);
            WriteIfPresent(w, "type"u8, e.QType);
            WriteIfPresent(w, "registered_domain"u8, registered);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        if (e.ServerName is { } sni)
        {
            w.WriteStartObject("tls"u8);
            w.WriteStartObject("client"u8);
            w.WriteString("server_name"u8, sni);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        if (e.Process is { } p)
        {
            w.WritePropertyName("process"u8);
            WriteProcess(w, p);
            if (p.Cgroup?.Container is { } container)
            {
                w.WriteStartObject("container"u8);
                w.WriteString("id"u8, container.Id);
                w.WriteString("runtime"u8, container.Runtime);
                w.WriteEndObject();
            }
        }

        if (source?.Ip is not null || destination.Ip is not null)
        {
            w.WriteStartObject("related"u8);
            w.WriteStartArray("ip"u8);
            if (source?.Ip is { } sip)
            {
                w.WriteStringValue(sip.ToString());
            }

            if (destination.Ip is { } d && !d.Equals(source?.Ip))
            {
                w.WriteStringValue(d.ToString());
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        if (e.File is { } file)
        {
            w.WriteStartObject("log"u8);
            w.WriteStartObject("file"u8);
            w.WriteString("path"u8, file);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        WriteCustom(w, e);
        w.WriteEndObject();
    }

    /// <summary>The ECS <c>process</c> object (opened and closed here); the parts ECS has no field for go in <see cref="WriteProcessExtras"/>.</summary>
    private static void WriteProcess(Utf8JsonWriter w, ProcessInfo p)
    {
        w.WriteStartObject();
        w.WriteNumber("pid"u8, p.Pid);
        w.WriteString("name"u8, p.Name);
        WriteIfPresent(w, "executable"u8, p.Exe);
        WriteIfPresent(w, "command_line"u8, p.CommandLine);
        if (p.Parents.Count > 0)
        {
            w.WriteStartObject("parent"u8);
            w.WriteNumber("pid"u8, p.Parents[0].Pid);
            w.WriteString("name"u8, p.Parents[0].Name);
            w.WriteEndObject();
        }

        if (p.Tid is not null || p.Thread is not null)
        {
            w.WriteStartObject("thread"u8);
            if (p.Tid is { } tid)
            {
                w.WriteNumber("id"u8, tid);
            }

            WriteIfPresent(w, "name"u8, p.Thread);
            w.WriteEndObject();
        }

        if (p.Uid is not null || p.User is not null)
        {
            w.WriteStartObject("user"u8);
            if (p.Uid is { } uid)
            {
                w.WriteString("id"u8, EcsJson.Id(uid));
            }

            WriteIfPresent(w, "name"u8, p.User);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    /// <summary>What dnsw knows of a process beyond ECS: the group id, the whole parent chain, the cgroup; nothing when none of it is known.</summary>
    private static void WriteProcessExtras(Utf8JsonWriter w, ProcessInfo p)
    {
        if (p.Gid is null && p.Parents.Count == 0 && p.Cgroup is null)
        {
            return;
        }

        w.WriteStartObject("process"u8);
        if (p.Gid is { } gid)
        {
            w.WriteNumber("gid"u8, gid);
        }

        if (p.Parents.Count > 0)
        {
            w.WriteStartArray("parents"u8);
            foreach (ProcessAncestor a in p.Parents)
            {
                w.WriteStartObject();
                w.WriteNumber("pid"u8, a.Pid);
                w.WriteString("name"u8, a.Name);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        if (p.Cgroup is { } c)
        {
            w.WriteStartObject("cgroup"u8);
            w.WriteNumber("id"u8, c.Id);
            WriteIfPresent(w, "path"u8, c.Path);
            WriteIfPresent(w, "unit"u8, c.Unit);
            WriteIfPresent(w, "pod"u8, c.Container?.Pod);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteCustom(Utf8JsonWriter w, LeakEvent e)
    {
        w.WriteStartObject(EcsJson.CustomObject);
        w.WriteString("kind"u8, e.Kind);
        WriteIfPresent(w, "leak_type"u8, e.LeakType?.ToString());
        w.WriteString("severity"u8, e.Severity.ToString());
        w.WriteString("transport"u8, e.Transport);
        w.WriteString("confidence"u8, LeakEventJson.Name(e.Confidence));
        w.WriteString("route_class"u8, e.RouteClass);
        w.WriteStartArray("evidence"u8);
        foreach (string s in e.Evidence)
        {
            w.WriteStringValue(s);
        }

        w.WriteEndArray();
        w.WriteNumber("frame"u8, e.Frame);
        WriteIfPresent(w, "provider"u8, e.Provider);
        WriteIfPresent(w, "correlation_id"u8, e.CorrelationId);
        WriteStrings(w, "path"u8, e.Path);
        WriteStrings(w, "path_route_classes"u8, e.PathRouteClasses);
        WriteAttribution(w, e.Attribution);
        if (e.Process is { } p)
        {
            WriteProcessExtras(w, p);
        }

        if (e.Connection is { } c)
        {
            w.WriteStartObject("connection"u8);
            w.WriteString("kind"u8, c.Kind);
            w.WriteString("iface"u8, c.Interface);
            w.WriteString("route_class"u8, c.RouteClass);
            (string address, int? port) = EndpointText.Split(c.Destination);
            w.WriteString("dst"u8, address);
            if (port is { } dport)
            {
                w.WriteNumber("dport"u8, dport);
            }

            WriteIfPresent(w, "server_name"u8, c.ServerName);
            w.WriteNumber("frame"u8, c.Frame);
            WriteIfPresent(w, "file"u8, c.File);
            w.WriteEndObject();
        }

        if (e.Exfiltration is { } x)
        {
            w.WriteStartObject("exfiltration"u8);
            w.WriteString("base_domain"u8, x.BaseDomain);
            w.WriteNumber("score"u8, x.Score);
            w.WriteNumber("queries"u8, x.Queries);
            w.WriteNumber("unique_subdomains"u8, x.UniqueSubdomains);
            w.WriteNumber("mean_entropy"u8, Math.Round(x.MeanEntropy, 3));
            w.WriteNumber("max_label_length"u8, x.MaxLabelLength);
            w.WriteNumber("max_name_length"u8, x.MaxNameLength);
            w.WriteNumber("txt_null_share"u8, Math.Round(x.TxtNullShare, 3));
            w.WriteNumber("nxdomain_share"u8, Math.Round(x.NxdomainShare, 3));
            w.WriteNumber("window_seconds"u8, x.WindowSeconds);
            w.WriteEndObject();
        }

        if (e.OnBehalfOf is { } o)
        {
            w.WriteStartObject("on_behalf_of"u8);
            if (o.Process is { } op)
            {
                // The asker in the same ECS shape as the sender, so one query finds both.
                w.WritePropertyName("process"u8);
                WriteProcess(w, op);
            }

            WriteAttribution(w, o.Attribution);
            w.WriteNumber("frame"u8, o.Frame);
            WriteIfPresent(w, "file"u8, o.File);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteAttribution(Utf8JsonWriter w, Attribution a)
    {
        w.WriteStartObject("attribution"u8);
        w.WriteString("confidence"u8, LeakEventJson.Name(a.Confidence));
        WriteIfPresent(w, "reason"u8, a.Reason);
        w.WriteString("source"u8, a.Source);
        w.WriteEndObject();
    }

    private static void WriteStrings(Utf8JsonWriter w, ReadOnlySpan<byte> name, IReadOnlyList<string>? values)
    {
        if (values is null)
        {
            return;
        }

        w.WriteStartArray(name);
        foreach (string v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }

    private static void WriteIfPresent(Utf8JsonWriter w, ReadOnlySpan<byte> name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }
}
