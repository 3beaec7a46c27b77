using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Benchmarks;

/// <summary>
/// The IP tracker: a lookup (the TUN filter's per-connection question) beside a bare
/// ConcurrentDictionary lookup, recording a 4-address answer, and "Fill" recording
/// <see cref="FillCount"/> addresses (16 per name) into a fresh tracker so MemoryDiagnoser shows
/// bytes per address (Allocated / FillCount).
/// </summary>
[MemoryDiagnoser]
public class IpTrackerBenchmarks
{
    private const int FillCount = 4096;
    private const int PerName = 16;
    private const long Now = 1_000 * TimeSpan.TicksPerSecond;

    private readonly ConcurrentDictionary<IpAddr, long> _bare = new();
    private IpTracker _tracker = null!;
    private IpAddr _known;
    private byte[] _answer = [];
    private byte[][] _fillAnswers = [];

    [GlobalSetup]
    public void Setup()
    {
        _answer = Answer("www.example.com", 0xC6336400, 4);
        _tracker = new IpTracker();
        _tracker.Record(_answer, Now);
        _known = IpAddr.FromV4(0xC6336402);
        _bare[_known] = long.MaxValue;
        _fillAnswers = new byte[FillCount / PerName][];
        for (int i = 0; i < _fillAnswers.Length; i++)
        {
            _fillAnswers[i] = Answer($"h{i}.example", (uint)(0x0A000000 + (i * PerName)), PerName);
        }
    }

    [Benchmark(Baseline = true)]
    public bool Contains() => _tracker.Contains(_known, Now);

    [Benchmark]
    public bool BareConcurrentDictionary() => _bare.TryGetValue(_known, out long expires) && Now < expires;

    [Benchmark]
    public int Record()
    {
        _tracker.Record(_answer, Now);
        return _tracker.Count;
    }

    [Benchmark(OperationsPerInvoke = FillCount)]
    public int Fill()
    {
        var tracker = new IpTracker();
        foreach (byte[] answer in _fillAnswers)
        {
            tracker.Record(answer, Now);
        }

        return tracker.Count;
    }

    private static byte[] Answer(string name, uint firstAddress, int count)
    {
        var buffer = new byte[4096];
        var w = new DnsMessageWriter(buffer);
        w.TryWriteHeader(1, DnsHeaderFlags.Response | DnsHeaderFlags.RecursionAvailable);
        w.TryWriteQuestion(name, DnsType.A);
        for (int i = 0; i < count; i++)
        {
            w.TryWriteA(DnsSection.Answer, name, 300, IpAddr.FromV4((uint)(firstAddress + i)));
        }

        w.TryFinish(out int n);
        return buffer.AsSpan(0, n).ToArray();
    }
}
