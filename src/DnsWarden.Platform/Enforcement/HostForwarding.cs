using System.Globalization;
using System.Runtime.Versioning;
using System.Text;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// The forwarding a jail or a TUN filter needs in the namespace dnsw runs in, held as a lease shared by every dnsw in
/// that namespace and undone when the last one lets go.
/// <para>
/// Linux decides whether to forward a packet by the interface it came in on (IPv4 <c>conf/IF/forwarding</c>; IPv6
/// <c>conf/IF/force_forwarding</c>, Linux 6.17+), so no host-wide switch is needed: forwarding goes on for dnsw's own
/// interface (the packets from the jail) and for each other interface where it was off (their replies, which
/// come back NATed). The global switches are left alone: <c>net.ipv4.ip_forward</c> would turn every interface into a
/// router, and <c>net.ipv6.conf.all.forwarding</c> would also make the host ignore router advertisements (a SLAAC host
/// loses its IPv6 default route). Only where the kernel lacks <c>force_forwarding</c> is IPv6 forwarded through the
/// global switch, with <c>accept_ra=2</c> on the interfaces that had 1, so router advertisements still count.
/// </para>
/// <para>
/// So that the host does not become a router for anyone else, table <see cref="GuardTable"/> drops whatever would be
/// forwarded from an interface dnsw opened unless it goes to a dnsw interface as part of a connection started from
/// there. The record <c>/run/dnsw/forwarding-NETNS</c> lists the holders ("PID START") and every value changed with
/// the one to restore; the last holder to leave — or the next start, or <c>--cleanup</c>, after a holder was killed —
/// restores each value that is still what dnsw wrote, removes the table and the record.
/// </para>
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class HostForwarding : IDisposable
{
    public const string GuardTable = "dnsw_forward";

    /// <summary>The names dnsw gives the interfaces it makes (jail veths, TUNs) start with this.</summary>
    public const string OwnInterfacePrefix = "dnsw";

    private const string ForceForwarding = "net/ipv6/conf/all/force_forwarding";

    private readonly string _recordPath;
    private readonly ProcessIdentity _holder;
    private readonly NftContext _nft;
    private readonly IReadOnlyList<SysctlChange> _known;
    private bool _released;

    private HostForwarding(string recordPath, ProcessIdentity holder, NftContext nft, IReadOnlyList<string> opened, IReadOnlyList<SysctlChange> known)
    {
        _recordPath = recordPath;
        _holder = holder;
        _nft = nft;
        Opened = opened;
        _known = known;
    }

    /// <summary>What this acquisition changed beyond dnsw's own interface (empty when another dnsw already had it), e.g. "eth0 (IPv4, IPv6)".</summary>
    public IReadOnlyList<string> Opened { get; }

    /// <summary>
    /// Turns forwarding on for <paramref name="ownInterface"/> (made by the caller, named <see cref="OwnInterfacePrefix"/>…)
    /// and joins the lease of the calling thread's namespace.
    /// </summary>
    public static HostForwarding Acquire(string ownInterface)
    {
        if (!ownInterface.StartsWith(OwnInterfacePrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"dnsw's interfaces are named {OwnInterfacePrefix}…: '{ownInterface}'", nameof(ownInterface));
        }

        // libnftables polls its socket with select(2), which aborts the process for a descriptor ≥ 1024: the context
        // that removes the guard at exit is opened now, while descriptors are few.
        var nft = new NftContext();
        try
        {
            bool perInterfaceV6 = Sysctl.Exists(ForceForwarding);
            Sysctl.Write($"net/ipv4/conf/{ownInterface}/forwarding", "1");
            if (perInterfaceV6 && Sysctl.Exists($"net/ipv6/conf/{ownInterface}/force_forwarding"))
            {
                Sysctl.Write($"net/ipv6/conf/{ownInterface}/force_forwarding", "1");
            }

            ProcessIdentity me = ProcessIdentity.Current;
            string path = RecordPath();
            using (RunDirectory.Lock())
            {
                LeaseRecord record = LeaseRecord.Read(path);
                record.Holders.RemoveAll(h => !h.IsAlive);
                if (record.Holders.Count == 0 && record.Changes.Count > 0)
                {
                    // Every holder died without restoring: start from the values they found.
                    Restore(record, nft);
                    record = new LeaseRecord();
                }

                var opened = new List<string>();
                foreach (string name in UplinkInterfaces())
                {
                    var families = new List<string>();
                    if (Open(record, $"net/ipv4/conf/{name}/forwarding", "1"))
                    {
                        families.Add("IPv4");
                    }

                    if (perInterfaceV6 && Sysctl.TryRead($"net/ipv6/conf/{name}/forwarding") is "0" && Open(record, $"net/ipv6/conf/{name}/force_forwarding", "1"))
                    {
                        families.Add("IPv6");
                    }

                    if (families.Count > 0)
                    {
                        opened.Add($"{name} ({string.Join(", ", families)})");
                        record.Guarded.Add(name);
                    }
                }

                if (!perInterfaceV6)
                {
                    opened.AddRange(OpenGlobalIpv6(record));
                }

                record.Holders.Add(me);
                Guard(record, nft);
                record.Write(path);
                return new HostForwarding(path, me, nft, opened, [.. record.Changes]);
            }
        }
        catch
        {
            nft.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Drops holders that died (SIGKILL) and, when none is left, restores what they changed. Returns a line per value
    /// restored or left alone; empty when there was nothing to do.
    /// </summary>
    public static IReadOnlyList<string> Reconcile()
    {
        string path = RecordPath();
        if (!File.Exists(path))
        {
            return [];
        }

        using (RunDirectory.Lock())
        {
            LeaseRecord record = LeaseRecord.Read(path);
            int before = record.Holders.Count;
            record.Holders.RemoveAll(h => !h.IsAlive);
            if (record.Holders.Count > 0)
            {
                if (record.Holders.Count != before)
                {
                    record.Write(path);
                }

                return [];
            }

            using var nft = new NftContext();
            IReadOnlyList<string> done = Restore(record, nft);
            Remove(path);
            return done;
        }
    }

    /// <summary>Leaves the lease; the last holder restores every value dnsw changed that is still as dnsw set it.</summary>
    public void Dispose()
    {
        if (_released)
        {
            return;
        }

        _released = true;
        try
        {
            using (RunDirectory.Lock())
            {
                LeaseRecord record = LeaseRecord.Read(_recordPath);
                if (!File.Exists(_recordPath))
                {
                    // Removed while held (by hand, or by something that took this namespace for gone): what the lease
                    // opened is still open, and the guard would go below. Restore what this holder saw opened, even
                    // if another holder it no longer knows of loses its forwarding with it: closed, not unguarded.
                    Console.Error.WriteLine($"dnsw: the forwarding lease record {_recordPath} was removed while held; restoring the {_known.Count} value(s) this holder knew of");
                    record.Changes.AddRange(_known);
                }

                record.Holders.RemoveAll(h => h == _holder || !h.IsAlive);
                if (record.Holders.Count > 0)
                {
                    record.Write(_recordPath);
                }
                else
                {
                    Restore(record, _nft);
                    Remove(_recordPath);
                }
            }
        }
        finally
        {
            _nft.Dispose();
        }
    }

    /// <summary>The record's path for the calling thread's namespace (its inode number names it).</summary>
    internal static string RecordPath() => Path.Combine(RunDirectory.Path, RecordPrefix + NetworkNamespace.CurrentId());

    private const string RecordPrefix = "forwarding-";

    /// <summary>
    /// Removes the lease records of network namespaces that no longer exist (<paramref name="liveNamespaces"/>, from
    /// <see cref="NetworkNamespace.LiveIds"/>): their sysctls and guard table went with them, and no run can ever be in
    /// them again to undo anything. A record with a live holder is kept whatever the set says: its holder runs in that
    /// namespace, so the namespace exists, and without the record the holder could not restore what the lease opened
    /// (a set taken from a partial view — made before the namespace was, or where its mount is not visible — must not
    /// cost a live jail its restore). Call with <see cref="RunDirectory.Lock"/> held.
    /// </summary>
    public static void ForgetGoneNamespaces(IReadOnlySet<string> liveNamespaces)
    {
        ArgumentNullException.ThrowIfNull(liveNamespaces);
        if (!Directory.Exists(RunDirectory.Path))
        {
            return;
        }

        foreach (string path in Directory.GetFiles(RunDirectory.Path, RecordPrefix + "*"))
        {
            if (!liveNamespaces.Contains(Path.GetFileName(path)[RecordPrefix.Length..]) && !LeaseRecord.Read(path).Holders.Any(h => h.IsAlive))
            {
                File.Delete(path);
            }
        }
    }

    // Names are written into nft commands: one with a character outside these is not opened (and so needs no guard).
    private static IEnumerable<string> UplinkInterfaces() =>
        Sysctl.Interfaces("ipv4").Union(Sysctl.Interfaces("ipv6"), StringComparer.Ordinal)
            .Where(n => n != "lo" && !n.StartsWith(OwnInterfacePrefix, StringComparison.Ordinal) && n.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '@'));

    /// <summary>Sets <paramref name="key"/> to <paramref name="value"/> unless it is already, recording the old value; true when changed.</summary>
    private static bool Open(LeaseRecord record, string key, string value)
    {
        string? now = Sysctl.TryRead(key);
        if (now is null || now == value)
        {
            return false;
        }

        record.Changes.Add(new SysctlChange(key, now, value, Unconditional: false));
        Sysctl.Write(key, value);
        return true;
    }

    /// <summary>Kernels without per-interface IPv6 forwarding: the global switch, with router advertisements still honoured.</summary>
    private static IEnumerable<string> OpenGlobalIpv6(LeaseRecord record)
    {
        const string All = "net/ipv6/conf/all/forwarding";
        if (Sysctl.TryRead(All) is not "0")
        {
            return [];
        }

        var opened = new List<string>();
        foreach (string name in UplinkInterfaces().Where(n => Sysctl.TryRead($"net/ipv6/conf/{n}/forwarding") is not null))
        {
            // Writing all/forwarding rewrites every interface's own value: those that were on are set back after it.
            if (Sysctl.TryRead($"net/ipv6/conf/{name}/forwarding") is "1")
            {
                record.Changes.Add(new SysctlChange($"net/ipv6/conf/{name}/forwarding", "1", "1", Unconditional: true));
            }

            if (Sysctl.TryRead($"net/ipv6/conf/{name}/accept_ra") is "1" && Open(record, $"net/ipv6/conf/{name}/accept_ra", "2"))
            {
                opened.Add($"{name} accept_ra=2");
            }

            record.Guarded.Add(name);
        }

        Open(record, All, "1");
        opened.Add("net.ipv6.conf.all.forwarding=1 (this kernel has no per-interface IPv6 forwarding)");
        return opened;
    }

    private static void Guard(LeaseRecord record, NftContext nft)
    {
        if (record.Guarded.Count == 0)
        {
            return;
        }

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"add table inet {GuardTable}\n");
        sb.Append(CultureInfo.InvariantCulture, $"add set inet {GuardTable} opened {{ type ifname; }}\n");
        sb.Append(CultureInfo.InvariantCulture, $"flush set inet {GuardTable} opened\n");
        sb.Append(CultureInfo.InvariantCulture, $"add element inet {GuardTable} opened {{ {string.Join(", ", record.Guarded.Distinct(StringComparer.Ordinal).Select(g => "\"" + g + "\""))} }}\n");
        sb.Append(CultureInfo.InvariantCulture, $"add chain inet {GuardTable} forward {{ type filter hook forward priority filter; policy accept; }}\n");
        sb.Append(CultureInfo.InvariantCulture, $"flush chain inet {GuardTable} forward\n");
        sb.Append(CultureInfo.InvariantCulture, $"add rule inet {GuardTable} forward iifname @opened oifname \"{OwnInterfacePrefix}*\" ct state established,related accept\n");
        sb.Append(CultureInfo.InvariantCulture, $"add rule inet {GuardTable} forward iifname @opened counter drop\n");
        NftResult r = nft.Run(sb.ToString());
        if (!r.Ok)
        {
            throw new InvalidOperationException("nftables refused the forwarding guard: " + r.Error.Trim());
        }
    }

    private static IReadOnlyList<string> Restore(LeaseRecord record, NftContext nft)
    {
        var done = new List<string>();
        for (int i = record.Changes.Count - 1; i >= 0; i--)
        {
            SysctlChange c = record.Changes[i];
            string? now = Sysctl.TryRead(c.Key);
            if (now is null || now == c.Saved)
            {
                continue;
            }

            if (now != c.Written && !c.Unconditional)
            {
                done.Add($"{c.Key} left at {now}: changed by someone else since dnsw set it to {c.Written}");
                continue;
            }

            try
            {
                Sysctl.Write(c.Key, c.Saved);
                done.Add($"{c.Key} restored to {c.Saved}");
            }
            catch (IOException e)
            {
                done.Add(e.Message);
            }
        }

        nft.Run($"delete table inet {GuardTable}");
        return done;
    }

    private static void Remove(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }

        RunDirectory.RemoveIfEmpty();
    }

    private readonly record struct SysctlChange(string Key, string Saved, string Written, bool Unconditional);

    /// <summary>The lease's record: "holder PID START", "set KEY SAVED WRITTEN" / "reset KEY SAVED WRITTEN", "guard IFNAME" lines.</summary>
    private sealed class LeaseRecord
    {
        public List<ProcessIdentity> Holders { get; } = [];

        public List<SysctlChange> Changes { get; } = [];

        public List<string> Guarded { get; } = [];

        public static LeaseRecord Read(string path)
        {
            var record = new LeaseRecord();
            string[] lines;
            try
            {
                lines = File.ReadAllLines(path);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return record;
            }

            foreach (string line in lines)
            {
                string[] f = line.Split(' ');
                switch (f[0])
                {
                    case "holder" when f.Length == 3 && ProcessIdentity.TryParse(f[1] + " " + f[2], out ProcessIdentity h):
                        record.Holders.Add(h);
                        break;
                    case "set" or "reset" when f.Length == 4 && f[1].StartsWith("net/", StringComparison.Ordinal):
                        record.Changes.Add(new SysctlChange(f[1], f[2], f[3], f[0] == "reset"));
                        break;
                    case "guard" when f.Length == 2:
                        record.Guarded.Add(f[1]);
                        break;
                    default:
                        break; // a line this version does not know: kept out rather than guessed at
                }
            }

            return record;
        }

        public void Write(string path)
        {
            var sb = new StringBuilder("# dnsw forwarding lease: holders, values to restore when the last one ends\n");
            foreach (ProcessIdentity h in Holders)
            {
                sb.Append(CultureInfo.InvariantCulture, $"holder {h}\n");
            }

            foreach (SysctlChange c in Changes)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{(c.Unconditional ? "reset" : "set")} {c.Key} {c.Saved} {c.Written}\n");
            }

            foreach (string g in Guarded.Distinct(StringComparer.Ordinal))
            {
                sb.Append(CultureInfo.InvariantCulture, $"guard {g}\n");
            }

            string temp = path + ".new";
            File.WriteAllText(temp, sb.ToString());
            File.Move(temp, path, overwrite: true);
        }
    }
}
