using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Tracking;

/// <summary>Retained bytes per tracked address (issue 5 target: at most 64).</summary>
[Collection(MemoryMeasurementCollection.Name)]
public sealed class IpTrackerMemoryTests
{
    private const long T0 = 1_000 * TimeSpan.TicksPerSecond;

    /// <summary>One A and one AAAA per name, so half the keys are IPv4-mapped and half IPv6.</summary>
    internal static double BytesPerAddress(int names, Func<int, string> nameOf, out IpTracker tracker)
    {
        var buffer = new byte[512];
        tracker = new IpTracker();
        long before = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < names; i++)
        {
            var w = new DnsMessageWriter(buffer);
            Assert.True(w.TryWriteHeader(1, DnsHeaderFlags.Response));
            string name = nameOf(i);
            Assert.True(w.TryWriteA(DnsSection.Answer, name, 300, IpAddr.FromV4((uint)(0x0A000000 + i))));
            Assert.True(w.TryWriteAaaa(DnsSection.Answer, name, 300, IpAddr.FromV6(0x20010DB8_0000_0000UL, (ulong)i)));
            Assert.True(w.TryFinish(out int n));
            tracker.Record(buffer.AsSpan(0, n), T0);
        }

        long after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(tracker);
        return (after - before) / (double)tracker.Count;
    }

    [Fact]
    public void HundredThousandNamesTwoAddressesEachFitIn64BytesPerAddress()
    {
        const int Names = 100_000;
        double perAddress = BytesPerAddress(Names, i => $"www{i}.example.com", out IpTracker tracker);
        string line = $"IpTracker: {perAddress:F1} B per address ({Names} names × A + AAAA, names www<i>.example.com)";
        TestContext.Current.SendDiagnosticMessage(line);
        Console.WriteLine(line);
        Assert.Equal(2 * Names, tracker.Count);
        Assert.InRange(perAddress, 1, 64);
    }

    [Fact]
    public void ReportsBytesPerAddressAcrossSizes()
    {
        foreach (int names in new[] { 1_000, 10_000, 50_000, 57_344, 57_345, 100_000, 200_000 })
        {
            foreach ((string label, Func<int, string> nameOf) in new (string, Func<int, string>)[]
            {
                ("h<i>.example", i => $"h{i}.example"),
                ("www<i>.example.com", i => $"www{i}.example.com"),
                ("edge-<i>.static.cdn.example-media.net", i => $"edge-{i}.static.cdn.example-media.net"),
            })
            {
                double perAddress = BytesPerAddress(names, nameOf, out _);
                string line = $"IpTracker: {names,7} names ({label}): {perAddress:F1} B per address";
                TestContext.Current.SendDiagnosticMessage(line);
                Console.WriteLine(line);
            }
        }
    }
}
