using DnsWarden.Capture.Files;
using DnsWarden.Capture.Live;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Tests.Files;

/// <summary>
/// The replay of a multi-interface capture in time order: each interface's frames arrive in order but interfaces
/// arrive in blocks (dumpcap); the buffer merges them.
/// </summary>
public sealed class TimeOrderBufferTests
{
    private const long Second = 1_000_000_000;
    private const long T0 = 1_700_000_000 * Second;
    private static readonly int[] s_twoInterfaces = [0, 1];

    private sealed record Released(long TimestampNs, long Frame, string Interface, byte[] Data);

    private readonly List<Released> _out = [];

    private void Handler(in FrameOrigin origin, ReadOnlySpan<byte> frame, long frameNumber) =>
        _out.Add(new Released(origin.TimestampNs, frameNumber, origin.InterfaceName, frame.ToArray()));

    private static void Add(TimeOrderBuffer b, long ns, long frame, string iface = "eth0", byte[]? data = null)
    {
        data ??= [(byte)frame, (byte)(frame >> 8), 0xAB];
        int id = iface switch
        {
            "eth0" => 0,
            "wg0" => 1,
            _ => 2,
        };
        var origin = new FrameOrigin(ns, id, iface, LinkType.Ethernet, data.Length);
        b.Add(in origin, data, frame);
    }

    private TimeOrderBuffer TwoInterfaces(TimeSpan window, int maxFrames = TimeOrderBuffer.DefaultMaxFrames) =>
        new(Handler, window, maxFrames, s_twoInterfaces);

    [Fact]
    public void BlocksOfTwoInterfaces_AreMergedByTimestamp()
    {
        using TimeOrderBuffer b = TwoInterfaces(TimeSpan.FromSeconds(10));

        // dumpcap-like blocks: eth0's frames 1-3, then wg0's frames 4-6 that happened in between.
        Add(b, T0 + (1 * Second), 1);
        Add(b, T0 + (3 * Second), 2);
        Add(b, T0 + (5 * Second), 3);
        Assert.Empty(_out); // wg0 may still have something earlier
        Add(b, T0 + (2 * Second), 4, "wg0");
        Assert.Equal([1L, 4], _out.Select(r => r.Frame)); // both waiting: the earliest heads are safe
        Add(b, T0 + (3 * Second), 5, "wg0");
        Add(b, T0 + (4 * Second), 6, "wg0");
        b.Flush();

        Assert.Equal([1L, 4, 2, 5, 6, 3], _out.Select(r => r.Frame));
        Assert.Equal(_out.Select(r => r.TimestampNs).Order(), _out.Select(r => r.TimestampNs));
        Assert.Equal(["eth0", "wg0", "eth0", "wg0", "wg0", "eth0"], _out.Select(r => r.Interface));
        Assert.Equal(0, b.Count);
        Assert.Equal(0, b.ForcedReleases);
    }

    [Fact]
    public void EqualTimestamps_OnTwoInterfaces_KeepFrameOrder()
    {
        using TimeOrderBuffer b = TwoInterfaces(TimeSpan.FromSeconds(1));
        Add(b, T0, 9);
        Add(b, T0, 12);
        Add(b, T0, 2, "wg0");
        Add(b, T0, 5, "wg0");
        b.Flush();
        Assert.Equal([2L, 5, 9, 12], _out.Select(r => r.Frame));
    }

    [Fact]
    public void OneInterface_IsReleasedAtOnce_InFileOrder()
    {
        using var b = new TimeOrderBuffer(Handler, TimeSpan.FromSeconds(10));
        Add(b, T0 + Second, 1);
        Assert.Single(_out);
        Add(b, T0, 2);
        Assert.Equal([1L, 2], _out.Select(r => r.Frame));
        Assert.Equal(0, b.Count);
    }

    [Fact]
    public void ASilentInterface_HoldsFramesOnlyUntilTheWindowPasses()
    {
        using TimeOrderBuffer b = TwoInterfaces(TimeSpan.FromSeconds(1));
        Add(b, T0, 1);
        Add(b, T0 + (Second / 2), 2);
        Add(b, T0 + Second - 1, 3);
        Assert.Empty(_out);
        Assert.Equal(3, b.Count);

        Add(b, T0 + Second, 4);
        Assert.Equal([1L], _out.Select(r => r.Frame));

        Add(b, T0 + (3 * Second), 5);
        Assert.Equal([1L, 2, 3, 4], _out.Select(r => r.Frame));
        Assert.Equal(1, b.Count);

        // A late frame on the silent interface, older than the window, goes at once, before anything newer.
        Add(b, T0, 6, "wg0");
        Assert.Equal([1L, 2, 3, 4, 6], _out.Select(r => r.Frame));
        b.Flush();
        Assert.Equal(5, _out[^1].Frame);
        Assert.Equal(0, b.ForcedReleases);
    }

    [Fact]
    public void InterfacesFirstSeenLater_JoinTheMerge()
    {
        using TimeOrderBuffer b = TwoInterfaces(TimeSpan.FromSeconds(10));
        Add(b, T0 + (2 * Second), 1);
        Add(b, T0 + (1 * Second), 2, "wg0");
        Add(b, T0 + (3 * Second), 3, "lo");
        b.Flush();
        Assert.Equal([2L, 1, 3], _out.Select(r => r.Frame));
    }

    [Fact]
    public void MaxFrames_ForcesReleases_AndCountsThem()
    {
        using TimeOrderBuffer b = TwoInterfaces(TimeSpan.FromHours(1), maxFrames: 3);
        Assert.Equal(3, b.MaxFrames);
        Assert.Equal(TimeSpan.FromHours(1), b.Window);
        for (int i = 1; i <= 5; i++)
        {
            Add(b, T0 + (i * Second), i);
        }

        Assert.Equal(3, b.Count);
        Assert.Equal(2, b.ForcedReleases);
        Assert.Equal([1L, 2], _out.Select(r => r.Frame));

        b.Flush();
        Assert.Equal([1L, 2, 3, 4, 5], _out.Select(r => r.Frame));
        Assert.Equal(2, b.ForcedReleases);
    }

    [Fact]
    public void Flush_ReleasesEverything_AndTheBufferCanGoOn()
    {
        using TimeOrderBuffer b = TwoInterfaces(TimeSpan.FromSeconds(30));
        Add(b, T0 + Second, 1);
        Add(b, T0, 2, "wg0");
        Assert.Equal([2L], _out.Select(r => r.Frame));
        b.Flush();
        Assert.Equal([2L, 1], _out.Select(r => r.Frame));
        Assert.Equal(0, b.Count);

        b.Flush();
        Assert.Equal(2, _out.Count);

        Add(b, T0 + (2 * Second), 3);
        b.Flush();
        Assert.Equal([2L, 1, 3], _out.Select(r => r.Frame));
    }

    [Fact]
    public void FrameBytes_AndNumbers_ArePreserved_IncludingEmptyAndLargeFrames()
    {
        byte[] large = new byte[70_000];
        new Random(3).NextBytes(large);
        byte[] source = [1, 2, 3];
        using var b = new TimeOrderBuffer(Handler, TimeSpan.FromSeconds(5), interfaceIds: [0, 1, 2]);
        Add(b, T0 + 2, 1_000_000_000_001, data: large);
        Add(b, T0 + 3, 8, data: new byte[2048]);
        Add(b, T0 + 1, 7, "wg0", data: []);
        Add(b, T0, 42, "lo", data: source);
        source[0] = 99; // the buffer holds a copy, not the caller's array
        b.Flush();

        Assert.Equal([42L, 7, 1_000_000_000_001, 8], _out.Select(r => r.Frame));
        Assert.Equal([1, 2, 3], _out[0].Data);
        Assert.Empty(_out[1].Data);
        Assert.Equal(large, _out[2].Data);
        Assert.Equal(2048, _out[3].Data.Length);
    }

    [Fact]
    public void Dispose_DropsWhatIsHeld_WithoutReleasingIt()
    {
        var b = TwoInterfaces(TimeSpan.FromSeconds(5));
        for (int i = 0; i < 100; i++)
        {
            Add(b, T0 + i, i + 1, data: new byte[1500]);
        }

        Assert.Equal(100, b.Count);
        b.Dispose();
        Assert.Equal(0, b.Count);
        Assert.Empty(_out);
        b.Dispose();
        b.Flush();
        Assert.Empty(_out);
    }

    [Fact]
    public void HandlerThatThrows_DoesNotKeepTheFrame()
    {
        int calls = 0;
        using var b = new TimeOrderBuffer((in FrameOrigin o, ReadOnlySpan<byte> f, long n) =>
        {
            calls++;
            throw new InvalidOperationException("handler failed");
        }, TimeSpan.Zero);
        var origin = new FrameOrigin(T0, 0, "eth0", LinkType.Ethernet, 1);
        Assert.Throws<InvalidOperationException>(() => b.Add(in origin, [1], 1));
        Assert.Equal(1, calls);
        Assert.Equal(0, b.Count);
    }

    [Fact]
    public void RandomBlocksOfThreeInterfaces_ComeOutSorted()
    {
        var rng = new Random(11);
        string[] names = ["eth0", "wg0", "lo"];

        // Each interface's own frames are in time order; the file interleaves them in random-sized blocks.
        var perInterface = names.Select(_ => new Queue<long>(Enumerable.Range(0, 2000).Select(_ => T0 + (rng.Next(1_000_000) * 1000L)).Order())).ToArray();
        var arrivals = new List<(long Ns, long Frame, string Iface)>();
        long frame = 0;
        while (perInterface.Any(q => q.Count > 0))
        {
            int i = rng.Next(names.Length);
            for (int n = rng.Next(1, 50); n > 0 && perInterface[i].Count > 0; n--)
            {
                arrivals.Add((perInterface[i].Dequeue(), ++frame, names[i]));
            }
        }

        using var b = new TimeOrderBuffer(Handler, TimeSpan.FromSeconds(20), interfaceIds: [0, 1, 2]);
        foreach ((long ns, long f, string iface) in arrivals)
        {
            Add(b, ns, f, iface);
        }

        b.Flush();
        Assert.Equal(arrivals.OrderBy(a => a.Ns).ThenBy(a => a.Frame).Select(a => a.Frame), _out.Select(r => r.Frame));
        Assert.Equal(0, b.ForcedReleases);
    }
}
