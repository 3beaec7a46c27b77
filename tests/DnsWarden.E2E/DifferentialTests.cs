using System.Globalization;
using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Files;
using DnsWarden.Capture.Live;
using DnsWarden.Wire.Frames;
using DnsWarden.Wire.Ip;

namespace DnsWarden.E2E;

/// <summary>
/// Our pcapng reader, frame decoder and dissector against tshark, on every frame of real traffic:
/// dnsmasq and knot-resolver (DoT, DoH) driven by dig, kdig and curl, captured by dumpcap on two
/// interfaces.
/// </summary>
[Collection(DnsTrafficCollection.Name)]
public sealed class DifferentialTests(DnsTrafficScenarioFixture fixture)
{
    private sealed record OurFrame(int Number, string? InterfaceName, bool Decoded, DecodedPacket Packet, List<Observation> Observations);

    [Fact]
    public void EveryFrame_AgreesWithTshark()
    {
        (DnsTrafficScenarioResult result, IReadOnlyList<OracleFrame> oracle) = fixture.Get();
        List<OurFrame> ours = ReadOurs(result.PcapngPath, out DissectorStats stats);

        Assert.Equal(oracle.Count, ours.Count);
        var problems = new List<string>();
        int dnsFrames = 0, helloFrames = 0;
        foreach (OracleFrame t in oracle)
        {
            OurFrame o = ours[t.Number - 1];
            void Check<T>(string what, T expected, T actual)
            {
                if (!EqualityComparer<T>.Default.Equals(expected, actual))
                {
                    problems.Add(string.Create(CultureInfo.InvariantCulture, $"frame {t.Number}: {what}: tshark {expected}, ours {actual}"));
                }
            }

            Check("interface", t.InterfaceName, o.InterfaceName);
            if (t.IpVersion is int version)
            {
                Check("decoded", true, o.Decoded);
                Check("ip version", version, (int)o.Packet.IpVersion);
                Check("source", t.SourceAddress, o.Packet.Source.ToString());
                Check("destination", t.DestinationAddress, o.Packet.Destination.ToString());
            }

            if (t.Transport is "udp" or "tcp")
            {
                Check("protocol", t.IpProtocol, (int?)o.Packet.IpProtocol);
                // tshark shows the transport of a fragmented datagram at the fragment that completes it; so do we,
                // through the observation the reassembled datagram produced there.
                FlowKey5 flow = o.Packet.IsFragment && o.Packet.FragmentOffset > 0 && o.Observations.Count > 0
                    ? o.Observations[0].Flow
                    : o.Packet.FlowKey;
                Check("source port", t.SourcePort, (int?)flow.SourcePort);
                Check("destination port", t.DestinationPort, (int?)flow.DestinationPort);
            }

            string[] expectedDns = t.Dns.Select(Render).ToArray();
            string[] actualDns = o.Observations.Where(x => x.Kind == ObservationKind.Dns).Select(x => Render(x.Dns!)).ToArray();
            Check("dns", string.Join(" | ", expectedDns), string.Join(" | ", actualDns));
            dnsFrames += expectedDns.Length > 0 ? 1 : 0;

            string[] expectedHellos = t.TlsClientHellos.Select(h => $"{h.ServerName} [{string.Join(",", h.Alpn)}]").ToArray();
            string[] actualHellos = o.Observations.Where(x => x.Kind is ObservationKind.TlsClientHello or ObservationKind.QuicInitial)
                .Select(x => $"{x.ServerName} [{string.Join(",", x.Alpn)}]").ToArray();
            Check("client hello", string.Join(" | ", expectedHellos), string.Join(" | ", actualHellos));
            helloFrames += expectedHellos.Length > 0 ? 1 : 0;
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));

        // The comparison is only worth something if the capture held what the scenario promised.
        Assert.True(dnsFrames >= 2 * DnsTrafficScenario.LoadQueryCount, $"only {dnsFrames} DNS frames");
        Assert.True(helloFrames >= 4, $"only {helloFrames} ClientHello frames");
        Assert.Equal(0, stats.MalformedTotal);
        Assert.Contains(ours, f => f.Observations.Any(x => x.Transport == "tcp53"));
        Assert.Contains(ours, f => f.Observations.Any(x => x.Transport == "dot"));

        // Real QUIC client Initials, v1 and draft-29, decrypted to their SNI.
        Assert.Contains(ours, f => f.Observations.Any(x => x.Kind == ObservationKind.QuicInitial && x.QuicVersion == 1
            && x.ServerName == DnsTrafficScenario.QuicServerName && x.Transport == "quic"));
        Assert.Contains(ours, f => f.Observations.Any(x => x.Kind == ObservationKind.QuicInitial && x.QuicVersion == 0xff00001d
            && x.ServerName == DnsTrafficScenario.QuicDraftServerName && x.Transport == "doq"));

        // The 3 KB TXT answers arrive as IPv4 and IPv6 fragments: both reassembled and decoded.
        Assert.True(stats.Reassembled >= 2, $"reassembled {stats.Reassembled} datagrams");
        Assert.Equal(2, ours.SelectMany(f => f.Observations).Count(x => x.Dns is { IsResponse: true, QName: DnsTrafficScenario.BigTxtName } d
            && d.Answers.Count == 1 && d.Answers[0].Data == string.Concat(DnsTrafficScenario.BigTxtStrings)));
    }

    private static List<OurFrame> ReadOurs(string path, out DissectorStats stats)
    {
        var frames = new List<OurFrame>();
        var dissector = new FrameDissector(o => frames[^1].Observations.Add(o));
        using ICaptureFileReader reader = CaptureFileReader.Open(path);
        while (reader.TryReadNext(out CapturedPacket p))
        {
            bool decoded = PacketDecoder.TryDecode(p.LinkType, p.Data, out DecodedPacket packet);
            frames.Add(new OurFrame(frames.Count + 1, p.InterfaceName, decoded, packet, []));
            var origin = new FrameOrigin(p.TimestampNs, p.InterfaceId, p.InterfaceName ?? "", p.LinkType, p.OriginalLength);
            dissector.Process(in origin, p.Data);
        }

        Assert.False(reader.Error.IsError, reader.Error.Message);
        dissector.Complete();
        stats = dissector.Stats;
        return frames;
    }

    private static string Render(OracleDnsMessage m) =>
        Render(m.Id, m.IsResponse, m.QName, m.QType, m.IsResponse ? m.Rcode : null, m.Answers);

    private static string Render(DnsFacts f) =>
        Render(f.Id, f.IsResponse, f.QName, f.QType, f.IsResponse ? f.Rcode : null,
            f.Answers.Select(a => a.Type.ToString(CultureInfo.InvariantCulture) + ":" + NormalizeData(a.Type, a.Data)).ToList());

    private static string Render(ushort id, bool response, string? qname, int? qtype, int? rcode, IReadOnlyList<string> answers) =>
        string.Create(CultureInfo.InvariantCulture,
            $"id={id} qr={response} q={NormalizeName(qname)}/{qtype} rcode={rcode} an=[{string.Join(",", answers)}]");

    private static string? NormalizeName(string? name) => name is null ? null : name == "." ? "" : name.ToLowerInvariant();

    private static string NormalizeData(ushort type, string data) =>
        type is 2 or 5 or 6 or 12 or 15 ? data.ToLowerInvariant() : type is 1 or 28 ? IpAddr.Parse(data).ToString() : data;
}
