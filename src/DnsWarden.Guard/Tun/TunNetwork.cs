using System.Globalization;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using DnsWarden.Guard.Jail;
using DnsWarden.Platform.Enforcement;
using DnsWarden.Platform.Network;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Tun;

/// <summary>
/// The plumbing of <c>dnsw tun --netns NAME</c>: TUN <see cref="InsideInterface"/> inside NAME (addresses, the virtual
/// subnet on-link through it, in firewall mode a FIB rule sending everything to table 100 whose default is the TUN and,
/// behind it, an unreachable default that outlives the TUN so a dead filter fails closed; an nft table turning TCP/53
/// to the virtual DNS address into the engine's TCP listener on loopback), and in the current ("host") namespace TUN
/// <c>dnswh&lt;N&gt;</c> routing the virtual subnet, forwarding on and masquerade for that subnet. Both TUNs go with
/// their descriptors; <see cref="Dispose"/> removes the rest, <see cref="CleanupStale"/> what a killed instance left.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class TunNetwork : IDisposable
{
    public const string InsideInterface = "dnswt0";
    public const string InsideTable = "dnsw_tun";

    /// <summary>Firewall mode's backstop inside the namespace: only loopback and the TUN may send (routing alone is not a filter).</summary>
    public const string BackstopTable = "dnsw_tun_backstop";
    public const string HostInterfacePattern = "dnswh%d";
    public const string OwnerDirectory = JailNetwork.OwnerDirectory;

    /// <summary>The FIB rule priority and routing table of firewall mode (before main, 32766; after local, 0).</summary>
    public const int RulePriority = 100;
    public const int RouteTable = 100;

    /// <summary>IPv4 MTU of both TUNs; with the virtio header the kernel hands over TCP super-packets regardless.</summary>
    public const int Mtu = 1500;

    public static readonly IpAddr InsideV4 = TunFilterOptions.TunAddressV4;
    public static readonly IpAddr InsideV6 = TunFilterOptions.TunAddressV6;

    /// <summary>The regular chain of <see cref="InsideTable"/> that firewall mode fills with TCP/53 to any address.</summary>
    private const string AnyDnsChain = "dns_tcp_any";

    private const string RemoveBackstop = $"delete table inet {BackstopTable}\ndelete table netdev {BackstopTable}";

    private readonly Lock _gate = new();
    private RtnetlinkSocket? _insideRoutes;
    private HostForwarding? _forwarding;

    // Opened at start-up and kept for the teardown: libnftables cannot run once descriptors pass 1024 (NftContext).
    private NftContext? _hostNft;
    private NftContext? _insideNft;
    private bool _disposed;

    private TunNetwork(string netns, TunFilterOptions filter)
    {
        Namespace = netns;
        Filter = filter;
    }

    public string Namespace { get; }

    public TunFilterOptions Filter { get; }

    public TunDevice Inside { get; private set; } = null!;

    public TunDevice Host { get; private set; } = null!;

    /// <summary>Interfaces of the host this instance turned forwarding on for (empty when another dnsw already had).</summary>
    public IReadOnlyList<string> ForwardingOpened => _forwarding?.Opened ?? [];

    /// <summary>Whether the firewall-mode rules are in place.</summary>
    public TunFilterMode Mode { get; private set; }

    public string HostTable => HostTableOf(Namespace);

    public string OwnerFile => OwnerFileOf(Namespace);

    public string ControlSocket => ControlSocketOf(Namespace);

    public static string OwnerFileOf(string netns) => Path.Combine(OwnerDirectory, $"tun-{netns}.pid");

    public static string ControlSocketOf(string netns) => Path.Combine(OwnerDirectory, $"tun-{netns}.sock");

    /// <summary>nft table names take letters, digits and underscores; a short hash keeps two namespaces apart.</summary>
    public static string HostTableOf(string netns)
    {
        var s = new StringBuilder("dnsw_tun_");
        foreach (char c in netns)
        {
            s.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
        }

        uint h = 2166136261;
        foreach (char c in netns)
        {
            h = (h ^ c) * 16777619;
        }

        return s.Append('_').Append(h.ToString("x8", CultureInfo.InvariantCulture)).ToString();
    }

    /// <summary>Builds both sides; on failure removes what it made and throws.</summary>
    /// <param name="vnetHeader">Open both TUNs with IFF_VNET_HDR and offloads (checksum, TSO): every read and write carries the 10-byte header.</param>
    public static TunNetwork Create(string netns, TunFilterOptions filter, TunFilterMode mode, bool vnetHeader, int ownerPid)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (!NetworkNamespace.Exists(netns))
        {
            throw new InvalidOperationException($"no network namespace '{netns}' (/run/netns/{netns})");
        }

        var net = new TunNetwork(netns, filter);
        try
        {
            OwnerRecord.Write(net.OwnerFile, ownerPid);
            net.Build(mode, vnetHeader);
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>The pid of the live instance serving <paramref name="netns"/>, or null (no owner file, or its process is gone or is another one).</summary>
    public static int? LiveOwner(string netns) => OwnerRecord.LiveOwner(OwnerFileOf(netns));

    /// <summary>
    /// Removes what a dead instance for <paramref name="netns"/> left: the firewall rules and table-100 routes (its
    /// fail-closed state), the nft tables, the owner file and socket. Returns false, touching nothing, when a live
    /// instance owns it.
    /// </summary>
    public static bool CleanupStale(string netns, TunFilterOptions? filter = null)
    {
        OwnerRecord.SweepOrphans();
        if (LiveOwner(netns) is not null)
        {
            return false;
        }

        // Its host TUN, NAT table and forwarding are in the namespace it ran from: only a run from there can undo them.
        if (!OwnerRecord.IsFromHere(OwnerFileOf(netns)))
        {
            throw new InvalidOperationException(
                $"what a dead instance for '{netns}' left was made from another network namespace (see {OwnerFileOf(netns)}); run dnsw tun --cleanup from there");
        }

        var net = new TunNetwork(netns, filter ?? new TunFilterOptions());
        net.RemoveAll();
        return true;
    }

    /// <summary>Adds or removes the firewall rules (table 100 stays: it only matters through the rules); idempotent.</summary>
    public void SetMode(TunFilterMode mode)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (mode == Mode)
            {
                return;
            }

            // The backstop goes in before the FIB rules and out after them, so no moment of firewall mode is without it.
            if (mode == TunFilterMode.Firewall)
            {
                RunInside(BackstopRules(OtherLinks()), "the firewall backstop");
                RunInside(AnyDnsRules, "the DNS rules");
            }

            foreach (AddressFamily family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
            {
                if (mode == TunFilterMode.Firewall)
                {
                    _insideRoutes!.AddRule(family, RulePriority, RouteTable);
                }
                else
                {
                    _insideRoutes!.DeleteRule(family, RulePriority, RouteTable);
                }
            }

            if (mode != TunFilterMode.Firewall)
            {
                RunInside($"flush chain inet {InsideTable} {AnyDnsChain}", "removing the DNS rules");
                RunInside(RemoveBackstop, "removing the firewall backstop");
            }

            Mode = mode;
        }
    }

    private void Build(TunFilterMode mode, bool vnetHeader)
    {
        var options = new TunOptions { VnetHeader = vnetHeader };

        // Everything made inside NAME is made on one thread that entered it, waited for synchronously: a thread-pool
        // thread started from there would live in NAME and open the engine's upstream sockets behind the filter.
        (TunDevice tun, RtnetlinkSocket routes) = NetworkNamespace.RunAsync(Namespace, () =>
        {
            TunDevice t = TunDevice.Open(InsideInterface, options);
            RtnetlinkSocket? r = null;
            try
            {
                r = RtnetlinkSocket.Open();
                r.SetLinkUp(r.GetLinkIndex("lo"));
                r.SetMtu(t.Index, Mtu);
                r.AddAddress(t.Index, InsideV4.ToIPAddress(), Filter.SubnetV4Prefix);
                r.AddAddress(t.Index, InsideV6.ToIPAddress(), Filter.SubnetV6Prefix, noDad: true);
                r.SetLinkUp(t.Index);
                foreach (RouteSpec route in InsideRoutes(t.Index))
                {
                    r.AddRoute(route);
                }

                // A virtual DNS address outside the TUN's subnets is on-link through it too, in every mode.
                foreach (IpAddr address in Filter.VirtualDns.Where(a => !InTunSubnet(a)))
                {
                    r.AddRoute(new RouteSpec(address.IsV4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6)
                    {
                        Destination = address.ToIPAddress(),
                        PrefixLength = address.IsV4 ? 32 : 128,
                        OutputInterfaceIndex = t.Index,
                    });
                }

                // "ready" must mean the namespace can use its addresses: IPv6 ones become local a little after link up.
                LocalAddresses.WaitUntilLocal([InsideV4.ToIPAddress(), InsideV6.ToIPAddress()], TimeSpan.FromSeconds(5));

                return (t, r);
            }
            catch
            {
                r?.Dispose();
                t.Dispose();
                throw;
            }
        }).GetAwaiter().GetResult();
        Inside = tun;
        _insideRoutes = routes;
        NftResult inside = NetworkNamespace.RunAsync(Namespace, () =>
        {
            _insideNft = new NftContext();
            return _insideNft.Run(InsideRules());
        }).GetAwaiter().GetResult();
        if (!inside.Ok)
        {
            throw new InvalidOperationException("nftables refused the TUN's rules inside the namespace: " + inside.Error.Trim());
        }

        Host = TunDevice.Open(HostInterfacePattern, options);
        using (RtnetlinkSocket host = RtnetlinkSocket.Open())
        {
            host.SetMtu(Host.Index, Mtu);
            host.SetLinkUp(Host.Index);
            host.AddRoute(new RouteSpec(AddressFamily.InterNetwork) { Destination = Filter.SubnetV4.ToIPAddress(), PrefixLength = Filter.SubnetV4Prefix, OutputInterfaceIndex = Host.Index });
            host.AddRoute(new RouteSpec(AddressFamily.InterNetworkV6) { Destination = Filter.SubnetV6.ToIPAddress(), PrefixLength = Filter.SubnetV6Prefix, OutputInterfaceIndex = Host.Index });
        }

        // Forwarding for the host TUN and the host's other interfaces (a lease shared with every dnsw here, undone by
        // the last), and masquerade for the virtual subnet only.
        _forwarding = HostForwarding.Acquire(Host.Name);
        string v4 = Filter.SubnetV4Prefix.ToString(CultureInfo.InvariantCulture);
        string v6 = Filter.SubnetV6Prefix.ToString(CultureInfo.InvariantCulture);
        _hostNft = new NftContext();
        NftResult nat = _hostNft.Run($$"""
            add table inet {{HostTable}}
            add chain inet {{HostTable}} post { type nat hook postrouting priority 100; policy accept; }
            add rule inet {{HostTable}} post ip saddr {{Filter.SubnetV4}}/{{v4}} masquerade
            add rule inet {{HostTable}} post ip6 saddr {{Filter.SubnetV6}}/{{v6}} masquerade
            """);
        if (!nat.Ok)
        {
            throw new InvalidOperationException("nftables refused the TUN's NAT: " + nat.Error.Trim());
        }

        Mode = TunFilterMode.DnsOnly;
        SetMode(mode);
    }

    /// <summary>
    /// Firewall mode's backstop: a program in the namespace can pick its interface (SO_BINDTODEVICE, an IPv6
    /// link-local address with a scope, a route of its own) and the FIB rule does not apply to it, so the namespace's
    /// output hook lets only loopback and the TUN send. A packet socket (AF_PACKET, CAP_NET_RAW, which container
    /// runtimes grant) writes frames below IP, where no route and no output hook sees them: every other interface of
    /// the namespace also gets an egress hook that drops everything. None of it is removed when dnsw dies: with the
    /// TUN gone only loopback is left (fail closed) until <c>--cleanup</c> or a new instance. The TUN's name is matched
    /// as a string, so the rule holds whether or not the device exists. Refusals are counted in
    /// <c>refused_interface</c> and <c>refused_frames</c>. An interface made later (only root in the namespace can)
    /// has no egress hook.
    /// </summary>
    private static string BackstopRules(IReadOnlyList<string> otherLinks)
    {
        var rules = new StringBuilder($$"""
            add table inet {{BackstopTable}}
            add counter inet {{BackstopTable}} refused_interface
            add chain inet {{BackstopTable}} out { type filter hook output priority 0; policy drop; }
            flush chain inet {{BackstopTable}} out
            add rule inet {{BackstopTable}} out oifname { "lo", "{{InsideInterface}}" } accept
            add rule inet {{BackstopTable}} out counter name refused_interface drop
            add table netdev {{BackstopTable}}
            delete table netdev {{BackstopTable}}
            add table netdev {{BackstopTable}}

            """);
        if (otherLinks.Count > 0)
        {
            string devices = string.Join(", ", otherLinks.Select(l => "\"" + l + "\""));
            rules.Append(CultureInfo.InvariantCulture, $$"""
                add counter netdev {{BackstopTable}} refused_frames
                add chain netdev {{BackstopTable}} out { type filter hook egress devices = { {{devices}} } priority 0; policy drop; }
                add rule netdev {{BackstopTable}} out counter name refused_frames drop

                """);
        }

        return rules.ToString();
    }

    /// <summary>The namespace's links but loopback and the TUN: the ones the backstop's egress hook closes.</summary>
    private string[] OtherLinks() => NetworkNamespace.RunAsync(Namespace, () =>
    {
        if (!RtnetlinkClient.TryReadState(out NetworkState? state, out string? error))
        {
            throw new IOException($"cannot list the links of namespace '{Namespace}': {error}");
        }

        string[] names = [.. state!.Links.Select(l => l.Name).Where(n => n is not ("lo" or InsideInterface))];
        if (names.FirstOrDefault(n => n.Contains('"', StringComparison.Ordinal) || n.Contains('\\', StringComparison.Ordinal)) is { } odd)
        {
            throw new InvalidOperationException($"namespace '{Namespace}' has a link named {odd}, which nftables cannot be given safely; rename it");
        }

        return names;
    }).GetAwaiter().GetResult();

    private void RunInside(string commands, string what)
    {
        NftResult result = _insideNft!.Run(commands);
        if (!result.Ok)
        {
            throw new InvalidOperationException($"nftables refused {what} inside the namespace: " + result.Error.Trim());
        }
    }

    /// <summary>
    /// TCP/53 to the virtual DNS addresses goes to the engine's TCP listener on loopback (nat output, before routing
    /// into the TUN); in firewall mode <see cref="AnyDnsChain"/> does the same for TCP/53 to every address, as the
    /// jail does. Conntrack undoes the rewrite on the answers, so they come from the address the client asked.
    /// </summary>
    private string InsideRules()
    {
        var rules = new StringBuilder($$"""
            add table inet {{InsideTable}}
            add chain inet {{InsideTable}} {{AnyDnsChain}}
            add chain inet {{InsideTable}} dns_tcp { type nat hook output priority -100; policy accept; }

            """);
        foreach (IpAddr address in Filter.VirtualDns)
        {
            rules.AppendLine(address.IsV4
                ? $"add rule inet {InsideTable} dns_tcp ip daddr {address} tcp dport 53 dnat ip to 127.0.0.1:53"
                : $"add rule inet {InsideTable} dns_tcp ip6 daddr {address} tcp dport 53 dnat ip6 to [::1]:53");
        }

        rules.AppendLine($"add rule inet {InsideTable} dns_tcp jump {AnyDnsChain}");
        return rules.ToString();
    }

    /// <summary>Firewall mode: TCP/53 to any address is the engine's (UDP/53 meets the filter in the TUN).</summary>
    private const string AnyDnsRules = $"""
        flush chain inet {InsideTable} {AnyDnsChain}
        add rule inet {InsideTable} {AnyDnsChain} meta nfproto ipv4 tcp dport 53 dnat ip to 127.0.0.1:53
        add rule inet {InsideTable} {AnyDnsChain} meta nfproto ipv6 tcp dport 53 dnat ip6 to [::1]:53
        """;

    private bool InTunSubnet(IpAddr address)
    {
        (IpAddr subnet, int prefix) = address.IsV4 ? (Filter.SubnetV4, Filter.SubnetV4Prefix) : (Filter.SubnetV6, Filter.SubnetV6Prefix);
        return new System.Net.IPNetwork(subnet.ToIPAddress(), prefix).Contains(address.ToIPAddress());
    }

    /// <summary>Closes both TUNs (readers return at once; in firewall mode the namespace is now closed), then removes the rest.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        Inside?.Dispose();
        Host?.Dispose();
        _insideRoutes?.Dispose();
        RemoveAll();
    }

    /// <summary>Table <see cref="RouteTable"/>: everything through the TUN, and under it an unreachable default that outlives the TUN (fail closed).</summary>
    private static RouteSpec[] InsideRoutes(int tunIndex) =>
    [
        new RouteSpec(AddressFamily.InterNetwork) { OutputInterfaceIndex = tunIndex, Source = InsideV4.ToIPAddress(), Table = RouteTable },
        new RouteSpec(AddressFamily.InterNetwork) { Kind = RouteKind.Unreachable, Metric = uint.MaxValue, Table = RouteTable },
        new RouteSpec(AddressFamily.InterNetworkV6) { OutputInterfaceIndex = tunIndex, Source = InsideV6.ToIPAddress(), Table = RouteTable },
        new RouteSpec(AddressFamily.InterNetworkV6) { Kind = RouteKind.Unreachable, Metric = uint.MaxValue, Table = RouteTable },
    ];

    private void RemoveAll()
    {
        if (NetworkNamespace.Exists(Namespace))
        {
            try
            {
                NetworkNamespace.RunAsync(Namespace, () =>
                {
                    using RtnetlinkSocket r = RtnetlinkSocket.Open();
                    r.DeleteRule(AddressFamily.InterNetwork, RulePriority, RouteTable);
                    r.DeleteRule(AddressFamily.InterNetworkV6, RulePriority, RouteTable);
                    int index = r.GetLinkIndex(InsideInterface);
                    foreach (RouteSpec route in InsideRoutes(index))
                    {
                        if (route.Kind == RouteKind.Unreachable || index > 0)
                        {
                            r.DeleteRoute(route);
                        }
                    }

                    if (index > 0)
                    {
                        r.DeleteLink(InsideInterface);
                    }

                    return 0;
                }).GetAwaiter().GetResult();
            }
            catch (IOException)
            {
            }

            // The backstop last: it keeps the namespace closed until the routes are gone.
            try
            {
                if (_insideNft is not null)
                {
                    _insideNft.Run($"delete table inet {InsideTable}");
                    _insideNft.Run($"delete table inet {BackstopTable}");
                    _insideNft.Run($"delete table netdev {BackstopTable}");
                }
                else
                {
                    NetworkNamespace.RunAsync(Namespace, () =>
                    {
                        using var nft = new NftContext();
                        nft.Run($"delete table inet {InsideTable}");
                        nft.Run($"delete table inet {BackstopTable}");
                        return nft.Run($"delete table netdev {BackstopTable}");
                    }).GetAwaiter().GetResult();
                }
            }
            catch (IOException)
            {
            }
        }

        _insideNft?.Dispose();
        using (NftContext nft = _hostNft ?? new NftContext())
        {
            nft.Run($"delete table inet {HostTable}");
        }

        _forwarding?.Dispose();
        try
        {
            File.Delete(ControlSocket);
        }
        catch (IOException)
        {
        }

        OwnerRecord.Delete(OwnerFile);
        HostForwarding.Reconcile();
    }
}
