using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Benchmarks;

/// <summary>
/// The IP tracker with 100,000 names × (A + AAAA) recorded: lookup hit and miss over 1024 addresses
/// spread through the table (the TUN filter's per-connection question), beside a bare
/// ConcurrentDictionary hit; "Insert" recording <see cref="FillNames"/> two-address answers into a
/// fresh tracker (ns per address, growth included); "ReRecord" an answer already held (the expiry
/// path). Bytes per address: IpTrackerMemoryTests (GC.GetTotalMemory), not MemoryDiagnoser, which
/// counts allocated rather than retained bytes.
/// </summary>
[MemoryDiagnoser]
public class IpTrackerBenchmarks
{
    private const int Names = 100_000;
    private const int Probes = 1024;
    private const int FillNames = 4096;
    private const long Now = 1_000 * TimeSpan.TicksPerSecond;

    private readonly ConcurrentDictionary<IpAddr, long> _bare = new();
    private IpTracker _tracker = null!;
    private IpAddr[] _hits = [];
    private IpAddr[] _misses = [];
    private byte[] _answer = [];
    private byte[][] _fillAnswers = [];

    [GlobalSetup]
    public void Setup()
    {
        _tracker = new IpTracker();
        for (int i = 0; i < Names; i++)
        {
            _tracker.Record(Answer($"www{i}.example.com", i), Now);
        }

        _hits = new IpAddr[Probes];
        _misses = new IpAddr[Probes];
        for (int p = 0; p < Probes; p++)
        {
            int i = (int)((long)p * Names / Probes);
            _hits[p] = (p & 1) == 0 ? V4(i) : V6(i);
            _misses[p] = (p & 1) == 0 ? V4(Names + i) : V6(Names + i);
            _bare[_hits[p]] = long.MaxValue;
        }

        _answer = Answer("www7.example.com", 7);
        _fillAnswers = new byte[FillNames][];
        for (int i = 0; i < FillNames; i++)
        {
            _fillAnswers[i] = Answer($"h{i}.example", i);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Probes)]
    public int LookupHit()
    {
        int found = 0;
        foreach (IpAddr a in _hits)
        {
            found += _tracker.Contains(a, Now) ? 1 : 0;
        }

        return found;
    }

    [Benchmark(OperationsPerInvoke = Probes)]
    public int LookupMiss()
    {
        int found = 0;
        foreach (IpAddr a in _misses)
        {
            found += _tracker.Contains(a, Now) ? 1 : 0;
        }

        return found;
    }

    [Benchmark(OperationsPerInvoke = Probes)]
    public int BareConcurrentDictionaryHit()
    {
        int found = 0;
        foreach (IpAddr a in _hits)
        {
            found += _bare.TryGetValue(a, out long expires) && Now < expires ? 1 : 0;
        }

        return found;
    }

    [Benchmark]
    public int ReRecord()
    {
        _tracker.Record(_answer, Now);
        return _tracker.Count;
    }

    [Benchmark(OperationsPerInvoke = 2 * FillNames)]
    public int Insert()
    {
        var tracker = new IpTracker();
        foreach (byte[] answer in _fillAnswers)
        {
            tracker.Record(answer, Now);
        }

        return tracker.Count;
    }

    private static IpAddr V4(int i) => IpAddr.FromV4((uint)(0x0A000000 + i));

    private static IpAddr V6(int i) => IpAddr.FromV6(0x20010DB8_0000_0000UL, (ulong)i);

    private static byte[] Answer(string name, int i)
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer);
        w.TryWriteHeader(1, DnsHeaderFlags.Response | DnsHeaderFlags.RecursionAvailable);
        w.TryWriteQuestion(name, DnsType.A);
        w.TryWriteA(DnsSection.Answer, name, 300, V4(i));
        w.TryWriteAaaa(DnsSection.Answer, name, 300, V6(i));
        w.TryFinish(out int n);
        return buffer.AsSpan(0, n).ToArray();
    }
}
