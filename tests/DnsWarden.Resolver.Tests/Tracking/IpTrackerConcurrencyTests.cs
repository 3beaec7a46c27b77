using DnsWarden.Resolver.Tracking;
using DnsWarden.Wire.Dns;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tests.Tracking;

/// <summary>
/// Lock-free readers against writers that insert, drop (per-name cap), expire, clear and so rebuild the
/// table: every hit must be an address that was inserted, with the one name it was recorded under.
/// </summary>
public sealed class IpTrackerConcurrencyTests
{
    private const long Second = TimeSpan.TicksPerSecond;
    private const long T0 = 1_000 * Second;
    private const int Keys = 4096;

    /// <summary>IPv6 keys whose two halves both encode k, so a key torn between two slots is one no writer inserted.</summary>
    private static IpAddr Key(int k) => k % 2 == 0
        ? IpAddr.FromV6(0x20010DB8_0000_0000UL | (uint)k, 0x5A5A_0000_0000_0000UL | ((ulong)k * 0x9E37_79B9UL))
        : IpAddr.FromV4(0xC6336400u + (uint)k);

    private static IpAddr Mixed(int a, int b) => IpAddr.FromV6(Key(a).High, Key(b).Low);

    private static string NameOf(int k) => $"n{k % 97}.stress.example";

    private static byte[] Answer(int k, uint ttl)
    {
        var buffer = new byte[512];
        var w = new DnsMessageWriter(buffer);
        Assert.True(w.TryWriteHeader(1, DnsHeaderFlags.Response));
        IpAddr a = Key(k);
        Assert.True(a.IsV4 ? w.TryWriteA(DnsSection.Answer, NameOf(k), ttl, a) : w.TryWriteAaaa(DnsSection.Answer, NameOf(k), ttl, a));
        Assert.True(w.TryFinish(out int n));
        return buffer.AsSpan(0, n).ToArray();
    }

    // Dedicated threads and fixed amounts of work: the outcome must not depend on how fast the thread pool grows or
    // on what else the machine runs. Readers go on until every writer is done and they have read a fixed amount.
    private const int WriterRounds = 60;
    private const int ReaderMinimumReads = 200_000;

    [Fact]
    public void ReadersNeverSeeATornKeyOrAForeignName()
    {
        byte[][] answers = Enumerable.Range(0, Keys).Select(k => Answer(k, (uint)(1 + (k % 5)))).ToArray();
        var tracker = new IpTracker(new IpTrackerOptions { MaxAddressesPerName = 16 });
        long hits = 0;
        int writersLeft = 2;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();

        Thread[] writers = [.. Enumerable.Range(0, 2).Select(w => new Thread(() =>
        {
            var rng = new Random(w);
            long now = T0;
            for (int round = 0; round < WriterRounds; round++)
            {
                if (w == 0 && round > 0)
                {
                    tracker.Sweep(now);
                    if (rng.Next(20) == 0)
                    {
                        tracker.Clear();
                    }
                }

                for (int i = 0; i < 2000; i++)
                {
                    tracker.Record(answers[rng.Next(Keys)], now);
                }

                now += Second;
            }

            Interlocked.Decrement(ref writersLeft);
        }))];

        Thread[] readers = [.. Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            var rng = new Random(100 + r);
            for (long reads = 0; reads < ReaderMinimumReads || Volatile.Read(ref writersLeft) > 0; reads++)
            {
                int k = rng.Next(Keys);
                if (tracker.TryGet(Key(k), 0, out TrackedAddress t))
                {
                    Interlocked.Increment(ref hits);
                    if (t.Address != Key(k) || t.Names.Count != 1 || t.Names[0] != NameOf(k))
                    {
                        failures.Enqueue($"{Key(k)}: {t.Address} [{string.Join(",", t.Names)}]");
                    }
                }

                int other = (k + 1 + rng.Next(Keys - 1)) % Keys;
                if (k % 2 == 0 && other % 2 == 0 && tracker.Contains(Mixed(k, other), 0))
                {
                    failures.Enqueue($"torn key {Mixed(k, other)} found");
                }
            }
        }))];

        RunAll([.. writers, .. readers]);
        Assert.Empty(failures);
        Assert.True(hits > 0, "readers never hit");
    }

    [Fact]
    public void SharedAddressesKeepOnlyNamesTheyWereGivenUnderConcurrency()
    {
        // Eight names share 64 addresses (a CDN): each hit's names are a duplicate-free subset of the eight.
        string[] names = Enumerable.Range(0, 8).Select(i => $"cdn{i}.example").ToArray();
        byte[][] answers = names.Select(n => SharedAnswer(n)).ToArray();
        var tracker = new IpTracker(new IpTrackerOptions { MaxAddressesPerName = 40 });
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        int writing = 1;
        long hits = 0;
        var writer = new Thread(() =>
        {
            var rng = new Random(3);
            for (int i = 0; i < 20_000; i++)
            {
                tracker.Record(answers[rng.Next(answers.Length)], T0);
                if (rng.Next(500) == 0)
                {
                    tracker.Clear();
                }
            }

            tracker.Record(answers[0], T0);
            Volatile.Write(ref writing, 0);
        });
        var reader = new Thread(() =>
        {
            var rng = new Random(4);
            for (long reads = 0; reads < ReaderMinimumReads || Volatile.Read(ref writing) != 0; reads++)
            {
                if (tracker.TryGet(IpAddr.FromV4(0xCB007100u + (uint)rng.Next(64)), T0, out TrackedAddress t))
                {
                    hits++;
                    if (t.Names.Count == 0 || t.Names.Distinct().Count() != t.Names.Count || !t.Names.All(names.Contains))
                    {
                        failures.Enqueue(string.Join(",", t.Names));
                    }
                }
            }
        });
        RunAll([writer, reader]);
        Assert.Empty(failures);
        Assert.True(hits > 0, "the reader never hit");
    }

    private static void RunAll(Thread[] threads)
    {
        foreach (Thread t in threads)
        {
            t.IsBackground = true;
            t.Start();
        }

        foreach (Thread t in threads)
        {
            t.Join();
        }
    }

    private static byte[] SharedAnswer(string name)
    {
        // 40 of the 64 shared addresses, rotated per name, so caps drop and names overlap.
        int start = name[3] - '0';
        var buffer = new byte[4096];
        var w = new DnsMessageWriter(buffer);
        Assert.True(w.TryWriteHeader(1, DnsHeaderFlags.Response));
        for (int i = 0; i < 40; i++)
        {
            Assert.True(w.TryWriteA(DnsSection.Answer, name, 60, IpAddr.FromV4(0xCB007100u + (uint)(((start * 7) + i) % 64))));
        }

        Assert.True(w.TryFinish(out int n));
        return buffer.AsSpan(0, n).ToArray();
    }
}
