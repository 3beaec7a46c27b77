using BenchmarkDotNet.Attributes;
using DnsWarden.Indicators;
using DnsWarden.Resolver.Cache;
using DnsWarden.Resolver.Engine;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Benchmarks;

/// <summary>
/// One query through <see cref="DnsEngine.HandleAsync(ReadOnlyMemory{byte}, Memory{byte}, ListenerProtocol, System.Net.EndPoint?, CancellationToken)"/>
/// without sockets: a cache hit with the tracker on (the proxy's hot path), a forwarded query to an upstream that
/// answers at once (everything the engine does around the network: decision, upstream query, checks on the answer,
/// tracking), and the same with exfiltration scoring on (as the jail and the TUN filter run).
/// </summary>
[MemoryDiagnoser]
public class DnsEngineBenchmarks
{
    private readonly byte[] _response = new byte[DnsEngine.MaxMessageSize];
    private DnsEngine _cached = null!;
    private DnsEngine _forwarding = null!;
    private DnsEngine _scored = null!;
    private byte[] _query = [];

    [GlobalSetup]
    public void Setup()
    {
        var buffer = new byte[512];
        DnsMessageWriter.TryWriteQuery(buffer, 0x1234, "www.example.com", DnsType.A, recursionDesired: true, ednsUdpPayloadSize: 1232, out int n);
        _query = buffer.AsSpan(0, n).ToArray();
        var upstream = new InstantForwarder(Answer(_query));
        _cached = new DnsEngine(new DnsEngineOptions { Forwarder = upstream, Cache = new DnsCache(), Tracker = new IpTracker() });
        _forwarding = new DnsEngine(new DnsEngineOptions { Forwarder = upstream, Tracker = new IpTracker() });
        _scored = new DnsEngine(new DnsEngineOptions
        {
            Forwarder = upstream,
            Tracker = new IpTracker(),
            Exfiltration = new ExfiltrationScorer(baseDomains: BaseDomains.Default),
        });

        // Warm: the cache holds the answer, the tracker its address.
        _cached.HandleAsync(_query, _response, ListenerProtocol.Udp, null).AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public int CacheHit() => _cached.HandleAsync(_query, _response, ListenerProtocol.Udp, null).Result;

    [Benchmark]
    public int Forward() => _forwarding.HandleAsync(_query, _response, ListenerProtocol.Udp, null).Result;

    [Benchmark]
    public int ForwardScored() => _scored.HandleAsync(_query, _response, ListenerProtocol.Udp, null).Result;

    /// <summary>Two A records with EDNS, for the query it is given.</summary>
    private static byte[] Answer(byte[] query)
    {
        var buffer = new byte[1232];
        var w = new DnsMessageWriter(buffer);
        w.TryBeginResponse(query, DnsRcode.NoError);
        var reader = new DnsMessageReader(query);
        reader.TryReadQuestion(out DnsQuestion q);
        w.TryWriteA(DnsSection.Answer, q.Name, 300, IpAddr.Parse("198.51.100.7"));
        w.TryWriteA(DnsSection.Answer, q.Name, 300, IpAddr.Parse("203.0.113.7"));
        w.TryFinish(out int n);
        return buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>An upstream that answers at once: the prepared answer with the asked ID.</summary>
    private sealed class InstantForwarder(byte[] answer) : IDnsForwarder
    {
        public ValueTask<ForwardReply> ForwardAsync(ReadOnlyMemory<byte> query, Memory<byte> response, CancellationToken cancellationToken)
        {
            answer.CopyTo(response.Span);
            query.Span[..2].CopyTo(response.Span);
            return ValueTask.FromResult(new ForwardReply(answer.Length, "udp://198.51.100.53", Resolver.Upstreams.UpstreamError.None));
        }
    }
}
