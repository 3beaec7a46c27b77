using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.Json;
using DnsWarden.Leak.Enrich;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Status;
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
        var status = HostStatus.Build(policy, state!, dns);
        status.JudgeKillSwitch();
        if (json)
        {
            using Stream stdout = Console.OpenStandardOutput();
            using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Encoder = LeakEventJson.WriterOptions.Encoder, Indented = true }))
            {
                HostStatusJson.Write(w, status);
            }

            stdout.WriteByte((byte)'\n');
        }
        else
        {
            Render(Terminal.Stdout, status);
        }

        return ExitCodes.Ok;
    }

    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static void Render(IAnsiConsole console, HostStatus status)
    {
        var interfaces = new Table().Border(TableBorder.Rounded).Title("interfaces");
        foreach (string c in new[] { "name", "index", "state", "kind", "mtu", "addresses", "route class", "DNS" })
        {
            interfaces.AddColumn(c);
        }

        foreach (InterfaceStatus i in status.Interfaces)
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
        foreach (InterfaceStatus i in status.Interfaces)
        {
            console.MarkupLine("  " + Markup.Escape(i.VerdictText));
        }

        string colour = status.KillSwitch.Verdict == KillSwitchVerdict.On ? "green" : "red";
        console.MarkupLine($"  [{colour}]{Markup.Escape(status.KillSwitchLine)}[/]");

        var routes = new Table().Border(TableBorder.Rounded).Title("routes (* default)");
        foreach (string c in new[] { "", "table", "destination", "gateway", "dev", "metric", "proto", "type" })
        {
            routes.AddColumn(c);
        }

        foreach (RouteInfo r in status.State.Routes.OrderBy(r => r.Family).ThenBy(r => r.Table == RouteInfo.TableMain ? 0 : r.Table == RouteInfo.TableLocal ? 2 : 1).ThenBy(r => r.Table))
        {
            string dev = r.OutputInterfaceIndex != 0 ? status.State.NameOf(r.OutputInterfaceIndex) ?? "if" + N(r.OutputInterfaceIndex)
                : string.Join(",", r.NextHops.Select(h => status.State.NameOf(h.InterfaceIndex) ?? "-"));
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

        foreach (RuleInfo r in status.State.Rules)
        {
            rules.AddRow(HostStatusJson.Family(r.Family), N(r.Priority), Markup.Escape(Selectors(r)), Markup.Escape(Action(r)));
        }

        console.Write(rules);
        RenderDns(console, status);
        RenderPolicy(console, status.Policy);
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
            parts.Add("fwmark " + HostStatusJson.Hex(mark) + (r.FwMask is { } mask && mask != uint.MaxValue ? "/" + HostStatusJson.Hex(mask) : ""));
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

    private static void RenderDns(IAnsiConsole console, HostStatus status)
    {
        if (status.Dns.ResolvConf is not { } conf)
        {
            console.MarkupLine($"[red]{Markup.Escape(status.Dns.ResolvConfPath)}: {Markup.Escape(status.Dns.ResolvConfError ?? "unreadable")}[/]");
        }
        else
        {
            RenderResolvConf(console, status.Dns.ResolvConfPath, conf, status.Nameservers);
            if (conf.UsesSystemdStub)
            {
                console.MarkupLine("  [yellow]points at the systemd-resolved stub (127.0.0.53): the upstream servers are resolved's own, below[/]");
            }
        }

        if (status.Dns.ResolvedUpstream is { } upstream)
        {
            RenderResolvConf(console, ResolvedStatus.UpstreamResolvConf, upstream, status.UpstreamNameservers);
        }

        if (status.Dns.ResolvedScopes is { } scopes)
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

    private static void RenderResolvConf(IAnsiConsole console, string path, ResolvConf conf, IReadOnlyList<NameserverStatus> views)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(path));
        table.AddColumn("line");
        table.AddColumn("nameserver");
        table.AddColumn("route");
        table.AddColumn("DNS");
        foreach (NameserverStatus v in views)
        {
            string route = v.Route is null ? "none" : $"{RouteInfo.TableName(v.Route.Table)} {v.Route.DestinationText}" + (v.Device is null ? "" : " dev " + v.Device)
                + (v.Class is { } c ? " (" + RouteClassifier.Name(c.Class) + ")" : "");
            string verdict = v.Verdict == "safe" ? "[green]safe[/]" : v.Verdict == "unused" ? "[grey]unused[/]" : v.Verdict == "direct" ? "[yellow]direct[/]" : "[red]" + Markup.Escape(v.Verdict) + "[/]";
            table.AddRow(N(v.Server.Line), Markup.Escape(v.Server.ToString()), Markup.Escape(route), verdict);
        }

        console.Write(table);
        foreach (NameserverStatus v in views)
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

    private static void RenderPolicy(IAnsiConsole console, LeakPolicy p)
    {
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
