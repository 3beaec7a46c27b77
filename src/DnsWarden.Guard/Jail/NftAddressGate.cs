using System.Diagnostics;
using System.Runtime.Versioning;
using DnsWarden.Policy.Http;
using DnsWarden.Resolver.Engine;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// DNS-first egress for the jail: before an answer is released, its A/AAAA addresses go into the jail's nftables
/// sets with a timeout, and the answer waits until the kernel has them: one request per answer to the jail's root
/// keeper (<see cref="KeeperClient"/>), which sends one nf_tables batch on the netlink socket it holds in the jail's
/// namespace (<see cref="DnsWarden.Platform.Enforcement.NftSetElements"/>) — the answering thread itself waits, no text for nft to parse. This
/// process has no capability left to insert with (nfnetlink checks the sender's CAP_NET_ADMIN), hence the keeper.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NftAddressGate : IAnswerObserver
{
    private readonly KeeperClient _sets;
    private readonly TimeSpan _minimum;
    private readonly Lock _nftLock = new();
    private readonly HostRules _hosts;
    private readonly bool _rawRules;
    private long _inserted;
    private long _failures;

    /// <param name="keeper">The jail's keeper (started later: until then every insert fails).</param>
    /// <param name="minimum">The TTL floor (<see cref="AddressHold"/>; default <see cref="AddressHold.DefaultMinimum"/>).</param>
    /// <param name="hosts">Raw TCP rules (<c>tcp:NAME:PORT</c>): an answer for NAME also opens its addresses on PORT.</param>
    public NftAddressGate(KeeperClient keeper, TimeSpan? minimum = null, HostRules? hosts = null)
    {
        _hosts = hosts ?? HostRules.None;
        _rawRules = _hosts.Rules.Any(r => r.Kind == HostRuleKind.Tcp);
        // At least a second: an element with timeout 0 in a set with flags timeout never expires.
        _minimum = TimeSpan.FromSeconds(Math.Max(1, (minimum ?? AddressHold.DefaultMinimum).TotalSeconds));
        _sets = keeper;
    }

    public long Inserted => Interlocked.Read(ref _inserted);

    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>How long each answer with addresses waited for them to be in the sets (the parse, the hop to the jail's thread, the kernel).</summary>
    public HoldTimes Held { get; } = new();

    public void BeforeRelease(ReadOnlySpan<byte> response)
    {
        long started = Stopwatch.GetTimestamp();
        int count = 0;
        bool ok = true;
        string? error = null;
        Span<byte> bytes = stackalloc byte[16];
        lock (_nftLock)
        {
            var reader = new DnsMessageReader(response);
            int[] ports = RawPorts(response);
            while (reader.TryReadRecord(out DnsRecord record))
            {
                if (record.Section != DnsSection.Answer || !record.TryReadAddress(out IpAddr address))
                {
                    continue;
                }

                TimeSpan timeout = AddressHold.Of(record.Ttl, _minimum);
                address.TryWriteBytes(bytes, out int length);
                if (!_sets.Add(bytes[..length], timeout))
                {
                    // This batch is full (a very long answer): send it and go on with the next.
                    ok &= _sets.Commit(out error);
                    ok &= _sets.Add(bytes[..length], timeout);
                }

                // Only an address the stub handed out for NAME opens NAME's raw port, and only that port.
                foreach (int port in ports)
                {
                    if (!_sets.AddWithPort(bytes[..length], (ushort)port, timeout))
                    {
                        ok &= _sets.Commit(out error);
                        ok &= _sets.AddWithPort(bytes[..length], (ushort)port, timeout);
                    }
                }

                count++;
            }

            if (count == 0)
            {
                return;
            }

            ok &= _sets.Commit(out string? last);
            error ??= last;
        }

        Held.Record(Stopwatch.GetElapsedTime(started));
        if (ok)
        {
            Interlocked.Add(ref _inserted, count);
        }
        else
        {
            // The answer still goes out; the connection it leads to will be refused (fail closed) and counted.
            Interlocked.Increment(ref _failures);
            LastError = error;
        }
    }

    /// <summary>The ports raw TCP rules open for the answer's name; none (no allocation) without such rules.</summary>
    private int[] RawPorts(ReadOnlySpan<byte> response)
    {
        if (!_rawRules)
        {
            return [];
        }

        var reader = new DnsMessageReader(response);
        return reader.TryReadQuestion(out DnsQuestion question) ? [.. _hosts.TcpPorts(question.Name.ToString())] : [];
    }

    /// <summary>Why the last insertion failed, if one did.</summary>
    public string? LastError { get; private set; }
}
