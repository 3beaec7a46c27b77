using DnsWarden.Capture.Files;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.E2E.Export;

/// <summary>
/// Capture files for the export scenarios: plain DNS queries from a laptop on eth0 to resolvers outside the safe
/// path (each one a Leak-A under proxy-stub), spread over three resolvers and seven base domains, one per
/// millisecond from <paramref name="start"/>. The addresses exist only as bytes in the file.
/// </summary>
internal static class ExportCaptures
{
    private static readonly IpAddr s_client = IpAddr.Parse("192.168.1.10");
    private static readonly IpAddr[] s_resolvers = [IpAddr.Parse("198.51.100.53"), IpAddr.Parse("203.0.113.53"), IpAddr.Parse("10.9.9.9")];

    public static void Write(string path, int queries, DateTimeOffset start, int seed)
    {
        using var writer = new PcapWriter(File.Create(path), LinkType.Raw);
        byte[] dns = new byte[512];
        byte[] packet = new byte[600];
        long t0 = (start - DateTimeOffset.UnixEpoch).Ticks * 100;
        for (int i = 0; i < queries; i++)
        {
            int k = i + seed;
            if (!DnsMessageWriter.TryWriteQuery(dns, (ushort)k, $"q{k}.site{k % 7}.test", (k % 5 == 0) ? DnsType.AAAA : DnsType.A, true, null, out int n)
                || !PacketBuilder.TryWriteUdpPacket(packet, s_client, s_resolvers[k % s_resolvers.Length], (ushort)(20000 + (k % 30000)), 53, dns.AsSpan(0, n), out int length))
            {
                throw new InvalidOperationException("query did not fit");
            }

            writer.WritePacket(t0 + i * 1_000_000L, packet.AsSpan(0, length));
        }
    }
}
