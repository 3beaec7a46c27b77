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
/// sets with a timeout, on a worker thread inside the jail's namespace, and the answer waits until the kernel has
/// them. Addresses are formatted from the parsed answer (never text from the wire), so nft never sees a name.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NftAddressGate : IAnswerObserver, IDisposable
{
    /// <summary>Shortest time an address stays allowed, whatever the TTL: a client connects a little after it resolves.</summary>
    public static readonly TimeSpan MinTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Longest: a day-long TTL still expires within the hour.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);

    private readonly NamespaceWorker _worker;
    private readonly NftContext _nft;
    private long _inserted;
    private long _failures;

    public NftAddressGate(string netns)
    {
        _worker = new NamespaceWorker(netns);
        _nft = _worker.Invoke(() => new NftContext());
    }

    public long Inserted => Interlocked.Read(ref _inserted);

    public long Failures => Interlocked.Read(ref _failures);

    public void BeforeRelease(ReadOnlySpan<byte> response)
    {
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
        NftResult result = _worker.Invoke(() => _nft.Run(batch));
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
        _worker.Invoke(() =>
        {
            _nft.Dispose();
            return 0;
        });
        _worker.Dispose();
    }
}
