using BenchmarkDotNet.Attributes;
using DnsWarden.Resolver.Cache;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Benchmarks;

/// <summary>
/// The resolver cache: a hit (copy, ID and question case, TTL patch), a miss, and a store; "Fill"
/// stores <see cref="FillCount"/> distinct answers into a fresh cache so MemoryDiagnoser shows the
/// bytes per entry (Allocated / FillCount).
/// </summary>
[MemoryDiagnoser]
public class DnsCacheBenchmarks
{
    private const int FillCount = 1000;
    private const long Now = 1_000 * TimeSpan.TicksPerSecond;

    private readonly byte[] _destination = new byte[1232];
    private DnsCache _cache = null!;
    private byte[] _query = [];
    private byte[] _askedMixedCase = [];
    private byte[] _missQuery = [];
    private byte[] _response = [];
    private byte[][] _fillQueries = [];
    private byte[][] _fillResponses = [];

    [GlobalSetup]
    public void Setup()
    {
        _query = Query("www.example.com", 1);
        _askedMixedCase = Query("wWw.ExaMple.CoM", 2);
        _missQuery = Query("absent.example.com", 3);
        _response = Answer(_query, 4);
        _cache = new DnsCache();
        _cache.Store(_query, _response, Now);
        _fillQueries = new byte[FillCount][];
        _fillResponses = new byte[FillCount][];
        for (int i = 0; i < FillCount; i++)
        {
            _fillQueries[i] = Query($"host{i}.example.com", (ushort)i);
            _fillResponses[i] = Answer(_fillQueries[i], 1);
        }
    }

    [Benchmark(Baseline = true)]
    public bool Hit() => _cache.TryAnswer(_askedMixedCase, Now + (5 * TimeSpan.TicksPerSecond), _destination, out _);

    [Benchmark]
    public bool Miss() => _cache.TryAnswer(_missQuery, Now, _destination, out _);

    [Benchmark]
    public DnsCacheStoreResult Store() => _cache.Store(_query, _response, Now);

    [Benchmark(OperationsPerInvoke = FillCount)]
    public int Fill()
    {
        var cache = new DnsCache(new DnsCacheOptions { MaxEntries = FillCount, ShardCount = 1 });
        for (int i = 0; i < FillCount; i++)
        {
            cache.Store(_fillQueries[i], _fillResponses[i], Now);
        }

        return cache.Count;
    }

    private static byte[] Query(string name, ushort id)
    {
        var buffer = new byte[512];
        DnsMessageWriter.TryWriteQuery(buffer, id, name, DnsType.A, recursionDesired: true, ednsUdpPayloadSize: 1232, out int n);
        return buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>A typical answer: <paramref name="count"/> A records with EDNS.</summary>
    private static byte[] Answer(byte[] query, int count)
    {
        var buffer = new byte[1232];
        var w = new DnsMessageWriter(buffer);
        w.TryBeginResponse(query, DnsRcode.NoError);
        var reader = new DnsMessageReader(query);
        reader.TryReadQuestion(out DnsQuestion q);
        for (int i = 0; i < count; i++)
        {
            w.TryWriteA(DnsSection.Answer, q.Name, 300, IpAddr.FromV4((uint)(0xC6336400 + i)));
        }

        w.TryFinish(out int n);
        return buffer.AsSpan(0, n).ToArray();
    }
}
