using System.Globalization;
using System.Net;
using System.Runtime.Versioning;
using DnsWarden.Platform.Enforcement;
using Microsoft.Win32.SafeHandles;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// The jail's network: a namespace joined to the current one by a veth pair, NAT for its traffic on the host side,
/// and inside it an nftables table that sends every DNS packet (UDP and TCP port 53, to any address, IPv4 and IPv6)
/// to the stub on the jail's loopback and lets out only established flows and addresses in the DNS-first sets.
/// Everything it makes carries the jail's id, so a later run can find and remove what a killed jail left.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class JailNetwork : IDisposable
{
    public const string NamespacePrefix = "dnsw-jail-";
    public const string JailTable = "dnsw_jail";
    public const string OwnerDirectory = OwnerRecord.Directory;

    private static readonly TimeSpan s_addressTimeout = TimeSpan.FromSeconds(5);

    // A keeper's teardown takes milliseconds; one that has not ended after this is stuck (or stopped) and is killed.
    private static readonly TimeSpan s_keeperGrace = TimeSpan.FromSeconds(5);

    private bool _disposed;
    private Task? _linksRemoved;
    private HostForwarding? _forwarding;

    // Opened at start-up and kept for the teardown: libnftables cannot run once descriptors pass 1024 (NftContext).
    private NftContext? _hostNft;
    private NftContext? _jailNft;

    private JailNetwork(string id)
    {
        Id = id;
        int block = int.Parse(id, CultureInfo.InvariantCulture) % 16384;
        string b3 = (block / 64).ToString(CultureInfo.InvariantCulture);
        int b4 = block % 64 * 4;
        HostV4 = $"10.201.{b3}.{(b4 + 1).ToString(CultureInfo.InvariantCulture)}";
        JailV4 = $"10.201.{b3}.{(b4 + 2).ToString(CultureInfo.InvariantCulture)}";
        string hex = block.ToString("x", CultureInfo.InvariantCulture);
        HostV6 = $"fd00:6a11:{hex}::1";
        JailV6 = $"fd00:6a11:{hex}::2";
    }

    public string Id { get; }

    public string Namespace => NamespacePrefix + Id;

    public string HostInterface => $"dnswj{Id}h";

    public string JailInterface => $"dnswj{Id}n";

    public string HostTable => "dnsw_jail_" + Id;

    public string HostV4 { get; }

    public string JailV4 { get; }

    public string HostV6 { get; }

    public string JailV6 { get; }

    private string OwnerFile => Path.Combine(OwnerDirectory, $"jail-{Id}.pid");

    /// <summary>The keeper's record ("PID START NETNS", <see cref="OwnerRecord"/>): while it lives, the jail is still being taken down.</summary>
    private string KeeperFile => Path.Combine(OwnerDirectory, $"jail-{Id}.keeper");

    /// <summary>Interfaces of the host this jail turned forwarding on for (empty when another dnsw already had).</summary>
    public IReadOnlyList<string> ForwardingOpened => _forwarding?.Opened ?? [];

    /// <summary>Builds the namespace, the veth pair, routes, NAT and the jail's table; removes what it made on failure.</summary>
    /// <param name="ownerPid">This process (the jail's id).</param>
    /// <param name="hostProxyPort">With host rules: every TCP connection (but DNS, loopback and the raw sets) is redirected to this port on the jail's loopback.</param>
    public static JailNetwork Create(int ownerPid, int? hostProxyPort = null)
    {
        var net = new JailNetwork(ownerPid.ToString(CultureInfo.InvariantCulture));
        try
        {
            net.Build(ownerPid, hostProxyPort);
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>
    /// In the keeper (<see cref="JailKeeper"/>): takes over the jail <paramref name="id"/> that <c>dnsw jail</c> built —
    /// joins its forwarding lease (already on: nothing changes) and opens the jail table's context for the counters —
    /// so that its <see cref="Dispose"/> is the teardown. The run then lets go of its own hold (<see cref="HandOver"/>).
    /// </summary>
    public static JailNetwork Adopt(string id)
    {
        var net = new JailNetwork(id);
        try
        {
            // Recorded before it holds anything: a cleanup that finds the run dead waits for this process to finish
            // the teardown (CleanupStale), rather than racing it for the forwarding lease.
            OwnerRecord.Write(net.KeeperFile, Environment.ProcessId);
            net._forwarding = HostForwarding.Acquire(net.HostInterface);
            net._hostNft = new NftContext();
            net._jailNft = NetworkNamespace.RunAsync(net.Namespace, () => new NftContext()).GetAwaiter().GetResult();
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>
    /// In <c>dnsw jail</c> once its keeper has adopted the jail: leaves the forwarding lease (the keeper holds it) and
    /// closes the nftables contexts, before the drop to nobody; <see cref="Dispose"/> then does nothing here.
    /// </summary>
    public void HandOver()
    {
        _disposed = true;
        _jailNft?.Dispose();
        _hostNft?.Dispose();
        _forwarding?.Dispose();
    }

    /// <summary>
    /// Removes every jail whose owner process is gone (SIGKILL leaves them); live jails are left alone. Returns the ids
    /// removed. A jail is found by its namespace, or by its owner record when the namespace went first (deleted by hand,
    /// or the run died while taking it down): its NAT table and veth here are removed all the same.
    /// </summary>
    public static IReadOnlyList<string> CleanupStale()
    {
        var removed = new List<string>();
        var ids = new SortedSet<string>(StringComparer.Ordinal);
        if (Directory.Exists(NetworkNamespace.RunDirectory))
        {
            ids.UnionWith(Directory.GetFiles(NetworkNamespace.RunDirectory, NamespacePrefix + "*").Select(p => Path.GetFileName(p)[NamespacePrefix.Length..]));
        }

        if (Directory.Exists(OwnerDirectory))
        {
            ids.UnionWith(Directory.GetFiles(OwnerDirectory, "jail-*.pid").Select(p => Path.GetFileNameWithoutExtension(p)["jail-".Length..]));
        }

        foreach (string id in ids)
        {
            // A jail made from another network namespace has its veth, NAT table and forwarding there: only a run
            // there can undo them.
            if (!int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || IsAlive(pid, id)
                || !OwnerRecord.IsFromHere(Path.Combine(OwnerDirectory, $"jail-{id}.pid")))
            {
                continue;
            }

            var stale = new JailNetwork(id);
            stale.WaitForKeeper();
            stale.Dispose();
            Interception.JailTrustFiles.Remove(id);
            removed.Add(id);
        }

        OwnerRecord.SweepOrphans();
        HostForwarding.Reconcile();
        return removed;
    }

    /// <summary>
    /// A jail whose run was killed is taken down by its keeper (its input ended). Until the keeper has finished, it holds
    /// the forwarding lease, so a cleanup that went on at once would return with forwarding still on. So the keeper is
    /// waited for; one that does not end within <see cref="s_keeperGrace"/> is killed, and this cleanup does its work.
    /// </summary>
    private void WaitForKeeper()
    {
        if (OwnerRecord.LiveIdentity(KeeperFile) is not { } keeper || keeper.WaitForExit(s_keeperGrace))
        {
            return;
        }

        _ = keeper.Signal(9);
        _ = keeper.WaitForExit(s_keeperGrace);
    }

    private static bool IsAlive(int pid, string id) => OwnerRecord.LiveOwner(Path.Combine(OwnerDirectory, $"jail-{id}.pid")) == pid;

    private void RemoveLinks()
    {
        try
        {
            using RtnetlinkSocket rtnl = RtnetlinkSocket.Open();
            rtnl.DeleteLink(HostInterface);
        }
        catch (IOException)
        {
        }
    }

    private void Build(int ownerPid, int? hostProxyPort)
    {
        OwnerRecord.Write(OwnerFile, ownerPid);
        // In-process (rtnetlink, and the namespace made like `ip netns add` makes it) rather than `ip` processes:
        // start-up time is one of the jail's figures (~5 ms instead of ~30–50 ms, docs/BENCHMARKS.md).
        NetworkNamespace.Create(Namespace);
        using (SafeFileHandle jailNamespace = NetworkNamespace.OpenHandle(Namespace))
        using (RtnetlinkSocket rtnl = RtnetlinkSocket.Open())
        {
            rtnl.CreateVeth(HostInterface, JailInterface, jailNamespace);
            int host = rtnl.GetLinkIndex(HostInterface);
            rtnl.AddAddress(host, IPAddress.Parse(HostV4), 30);
            rtnl.AddAddress(host, IPAddress.Parse(HostV6), 64, noDad: true);
            rtnl.SetLinkUp(host);
        }

        LocalAddresses.WaitUntilLocal([IPAddress.Parse(HostV4), IPAddress.Parse(HostV6)], s_addressTimeout);

        // The jail's traffic leaves through the host: forwarding on for the veth and the host's other interfaces (a
        // lease shared with every dnsw here, undone by the last), and NAT for the jail's two addresses only.
        _forwarding = HostForwarding.Acquire(HostInterface);
        _hostNft = new NftContext();
        NftResult nat = _hostNft.Run($$"""
            add table inet {{HostTable}}
            add chain inet {{HostTable}} post { type nat hook postrouting priority 100; policy accept; }
            add rule inet {{HostTable}} post ip saddr {{JailV4}} masquerade
            add rule inet {{HostTable}} post ip6 saddr {{JailV6}} masquerade
            """);
        if (!nat.Ok)
        {
            throw new InvalidOperationException("nftables refused the jail's NAT: " + nat.Error.Trim());
        }

        NftResult inside = NetworkNamespace.RunAsync(Namespace, () =>
        {
            using (RtnetlinkSocket rtnl = RtnetlinkSocket.Open())
            {
                rtnl.SetLinkUp(rtnl.GetLinkIndex("lo"));
                int jail = rtnl.GetLinkIndex(JailInterface);
                rtnl.AddAddress(jail, IPAddress.Parse(JailV4), 30);
                rtnl.AddAddress(jail, IPAddress.Parse(JailV6), 64, noDad: true);
                rtnl.SetLinkUp(jail);
                rtnl.AddRoute(RouteSpec.DefaultVia(IPAddress.Parse(HostV4)));
                rtnl.AddRoute(RouteSpec.DefaultVia(IPAddress.Parse(HostV6)));
            }

            // The command's first IPv6 packet must not meet an address addrconf has not finished with.
            LocalAddresses.WaitUntilLocal([IPAddress.Parse(JailV4), IPAddress.Parse(JailV6)], s_addressTimeout);

            // Kept for the counters read at exit (its socket stays in the jail's namespace).
            _jailNft = new NftContext();
            NftResult rules = _jailNft.Run(JailRules());
            return rules.Ok && hostProxyPort is int port ? _jailNft.Run(HostProxyRules(port)) : rules;
        }).GetAwaiter().GetResult();
        if (!inside.Ok)
        {
            throw new InvalidOperationException("nftables refused the jail's rules: " + inside.Error.Trim());
        }
    }

    /// <summary>
    /// Inside the jail. Output: every DNS packet to any address is rewritten to the stub on loopback (nat output); egress
    /// is refused unless it is loopback (DNS rewritten to the stub included), part of an established flow, neighbour
    /// discovery, or to an address the stub answered with (the sets, filled before each answer is released). Always
    /// refused: IPv6 routing headers and IPv4 options (a first hop that is allowed would carry the packet on to one
    /// that is not), multicast (the jail needs none; a group joined by any program would otherwise announce itself in
    /// MLD or IGMP reports, a channel out), DoT/DoQ and QUIC. Group reports and router solicitations are dropped
    /// without a log line (counter dropped_kernel): the kernel sends them for every jail, and a refusal list full of
    /// them would bury what the command tried. Input: nothing new comes in — only loopback, replies to
    /// the jail's own flows and neighbour discovery; a neighbour or host process opening a connection to the jail is
    /// refused and logged. Counters name what was refused; each refusal is logged to NFLOG group 7 with its kind. An
    /// egress refusal is answered at once (chain refuse: a TCP reset, else ICMP administratively prohibited), so the
    /// command fails at once instead of waiting out its own timeout; inbound attempts are dropped silently.
    /// </summary>
    private static string JailRules() => $$"""
        add table inet {{JailTable}}
        add set inet {{JailTable}} allowed4 { type ipv4_addr; flags timeout; }
        add set inet {{JailTable}} allowed6 { type ipv6_addr; flags timeout; }
        add counter inet {{JailTable}} refused_dot
        add counter inet {{JailTable}} refused_quic
        add counter inet {{JailTable}} refused_unresolved
        add counter inet {{JailTable}} refused_multicast
        add counter inet {{JailTable}} refused_routing
        add counter inet {{JailTable}} refused_ipoptions
        add counter inet {{JailTable}} refused_inbound
        add counter inet {{JailTable}} dropped_kernel
        add chain inet {{JailTable}} dns_to_stub { type nat hook output priority -100; policy accept; }
        add rule inet {{JailTable}} dns_to_stub meta nfproto ipv4 meta l4proto { udp, tcp } th dport 53 dnat ip to 127.0.0.1:53
        add rule inet {{JailTable}} dns_to_stub meta nfproto ipv6 meta l4proto { udp, tcp } th dport 53 dnat ip6 to [::1]:53
        add chain inet {{JailTable}} refuse
        add rule inet {{JailTable}} refuse meta l4proto tcp reject with tcp reset
        add rule inet {{JailTable}} refuse reject with icmpx admin-prohibited
        add chain inet {{JailTable}} egress { type filter hook output priority 0; policy drop; }
        add rule inet {{JailTable}} egress oifname "lo" accept
        add rule inet {{JailTable}} egress exthdr rt exists counter name refused_routing log prefix "routing" group 7 goto refuse
        add rule inet {{JailTable}} egress ip hdrlength != 5 counter name refused_ipoptions log prefix "ipoptions" group 7 goto refuse
        add rule inet {{JailTable}} egress ct status dnat accept
        add rule inet {{JailTable}} egress ct state established,related accept
        add rule inet {{JailTable}} egress icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
        add rule inet {{JailTable}} egress icmpv6 type { mld-listener-report, mld2-listener-report, mld-listener-done, nd-router-solicit } counter name dropped_kernel drop
        add rule inet {{JailTable}} egress ip protocol igmp counter name dropped_kernel drop
        add rule inet {{JailTable}} egress ip daddr 224.0.0.0/4 counter name refused_multicast log prefix "multicast" group 7 goto refuse
        add rule inet {{JailTable}} egress ip6 daddr ff00::/8 counter name refused_multicast log prefix "multicast" group 7 goto refuse
        add rule inet {{JailTable}} egress meta l4proto { tcp, udp } th dport 853 counter name refused_dot log prefix "dot" group 7 goto refuse
        add rule inet {{JailTable}} egress udp dport { 80, 443 } counter name refused_quic log prefix "quic" group 7 goto refuse
        add rule inet {{JailTable}} egress ip daddr @allowed4 accept
        add rule inet {{JailTable}} egress ip6 daddr @allowed6 accept
        add rule inet {{JailTable}} egress counter name refused_unresolved log prefix "unresolved" group 7 goto refuse
        add chain inet {{JailTable}} ingress { type filter hook input priority 0; policy drop; }
        add rule inet {{JailTable}} ingress iifname "lo" accept
        add rule inet {{JailTable}} ingress ct state established,related accept
        add rule inet {{JailTable}} ingress icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
        add rule inet {{JailTable}} ingress counter name refused_inbound log prefix "inbound" group 7 drop
        """;

    /// <summary>
    /// With host rules (docs/JAIL.md): after DNS has gone to the stub, every other TCP connection — any address, any
    /// port, IPv4 and IPv6 — is redirected to the host proxy on the jail's loopback, except loopback itself and an
    /// address and port in raw4/raw6 (a <c>tcp:NAME:PORT</c> rule, filled by the stub with the addresses it answered for
    /// NAME). The redirect is a DNAT, so the egress chain's <c>ct status dnat</c> lets it through.
    /// </summary>
    private static string HostProxyRules(int port) => $$"""
        add set inet {{JailTable}} raw4 { type ipv4_addr . inet_service; flags timeout; }
        add set inet {{JailTable}} raw6 { type ipv6_addr . inet_service; flags timeout; }
        add rule inet {{JailTable}} dns_to_stub ip daddr 127.0.0.0/8 return
        add rule inet {{JailTable}} dns_to_stub ip6 daddr ::1 return
        add rule inet {{JailTable}} dns_to_stub ip daddr . tcp dport @raw4 return
        add rule inet {{JailTable}} dns_to_stub ip6 daddr . tcp dport @raw6 return
        add rule inet {{JailTable}} dns_to_stub meta l4proto tcp redirect to :{{port}}
        """;

    /// <summary>The jail table's counters as nft lists them (text); empty when they cannot be read.</summary>
    public string ListCounters() => _jailNft?.Run($"list counters table inet {JailTable}").Output ?? "";

    /// <summary>Starts deleting the veth pair (the jail is done with it); <see cref="Dispose"/> waits for it.</summary>
    public void RemoveLinksInBackground() => _linksRemoved ??= Task.Run(RemoveLinks);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _jailNft?.Dispose();
        using (NftContext nft = _hostNft ?? new NftContext())
        {
            nft.Run($"delete table inet {HostTable}");
        }

        NetworkNamespace.Delete(Namespace);

        // The veth would go with the namespace, but a namespace is torn down asynchronously: the host end explicitly.
        (_linksRemoved ?? Task.Run(RemoveLinks)).GetAwaiter().GetResult();
        _forwarding?.Dispose();
        OwnerRecord.Delete(OwnerFile);
        OwnerRecord.Delete(KeeperFile);
    }
}
