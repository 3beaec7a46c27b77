using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using DnsWarden.Platform.Enforcement;
using DnsWarden.Resolver.Engine;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Guard.Jail;

/// <summary>
/// DNS-first egress for the jail: before an answer is released, its A/AAAA addresses go into the jail's nftables
/// sets with a timeout, and the answer waits until the kernel has them. The libnftables context is made inside the
/// jail's namespace, where it opens its netlink socket once and keeps it; so the insertion runs on the answering
/// thread itself, no hop to a thread in the namespace. Addresses are formatted from the parsed answer (never text
/// from the wire), so nft never sees a name.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NftAddressGate : IAnswerObserver, IDisposable
{
    /// <summary>Shortest time an address stays allowed, whatever the TTL: a client connects a little after it resolves.</summary>
    public static readonly TimeSpan MinTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Longest: a day-long TTL still expires within the hour.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);

    private readonly NftContext _nft;
    private readonly Lock _nftLock = new();
    private long _inserted;
    private long _failures;

    public NftAddressGate(string netns)
    {
        _nft = NetworkNamespace.RunAsync(netns, () => new NftContext()).GetAwaiter().GetResult();
    }

    public long Inserted => Interlocked.Read(ref _inserted);

    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>How long each answer with addresses waited for them to be in the sets (the parse, the hop to the jail's thread, the kernel).</summary>
    public HoldTimes Held { get; } = new();

    public void BeforeRelease(ReadOnlySpan<byte> response)
    {
        long started = Stopwatch.GetTimestamp();
        var v4 = new StringBuilder();
        var v6 = new StringBuilder();
        int count = 0;
        var reader = new DnsMessageReader(response);
        while (reader.TryReadRecord(out DnsRecord record))
        {
            if (record.Section != DnsSection.Answer || !record.TryReadAddress(out IpAddr address))
            {
                continue;
            }

            long seconds = Math.Clamp(record.Ttl, (long)MinTimeout.TotalSeconds, (long)MaxTimeout.TotalSeconds);
            StringBuilder target = address.IsV4 ? v4 : v6;
            target.Append(target.Length == 0 ? "" : ", ").Append(address.ToString()).Append(" timeout ").Append(seconds.ToString(CultureInfo.InvariantCulture)).Append('s');
            count++;
        }

        if (count == 0)
        {
            return;
        }

        var commands = new StringBuilder();
        if (v4.Length > 0)
        {
            commands.Append("add element inet ").Append(JailNetwork.JailTable).Append(" allowed4 { ").Append(v4).Append(" }\n");
        }

        if (v6.Length > 0)
        {
            commands.Append("add element inet ").Append(JailNetwork.JailTable).Append(" allowed6 { ").Append(v6).Append(" }\n");
        }

        string batch = commands.ToString();
        NftResult result;
        lock (_nftLock)
        {
            result = _nft.Run(batch);
        }

        Held.Record(Stopwatch.GetElapsedTime(started));
        if (result.Ok)
        {
            Interlocked.Add(ref _inserted, count);
        }
        else
        {
            // The answer still goes out; the connection it leads to will be refused (fail closed) and counted.
            Interlocked.Increment(ref _failures);
        }
    }

    public void Dispose()
    {
        lock (_nftLock)
        {
            _nft.Dispose();
        }
    }
}
