using DnsWarden.Capture.Files;
using DnsWarden.Capture.Live;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Tests.Files;

public sealed class TimeOrderBufferTests
{
    private const long Second = 1_000_000_000;
    private const long T0 = 1_700_000_000 * Second;

    private sealed record Released(long TimestampNs, long Frame, string Interface, byte[] Data);

    private readonly List<Released> _out = [];

    private void Handler(in FrameOrigin origin, ReadOnlySpan<byte> frame, long frameNumber) =>
        _out.Add(new Released(origin.TimestampNs, frameNumber, origin.InterfaceName, frame.ToArray()));

    private static void Add(TimeOrderBuffer b, long ns, long frame, string iface = "eth0", byte[]? data = null)
    {
        data ??= [(byte)frame, (byte)(frame >> 8), 0xAB];
        var origin = new FrameOrigin(ns, iface == "eth0" ? 0 : 1, iface, LinkType.Ethernet, data.Length);
        b.Add(in origin, data, frame);
    }

    [Fact]
    public void OutOfOrderInput_IsReleasedByTimestampThenFrameNumber()
    {
        using var b = new TimeOrderBuffer(Handler, TimeSpan.FromSeconds(10));
        // dumpcap-like blocks: eth0's frames 1-3, then wg0's frames 4-6 that happened in between.
        Add(b, T0 + (1 * Second), 1);
        Add(b, T0 + (3 * Second), 2);
        Add(b, T0 + (5 * Second), 3);
        Add(b, T0 + (2 * Second), 4, "wg0");
        Add(b, T0 + (3 * Second), 5, "wg0");
        Add(b, T0 + (4 * Second), 6, "wg0");
        Assert.Empty(_out);
        b.Flush();

        Assert.Equal([1L, 4, 2, 5, 6, 3], _out.Select(r => r.Frame));
        Assert.Equal(_out.Select(r => r.TimestampNs).Order(), _out.Select(r => r.TimestampNs));
        Assert.Equal(["eth0", "wg0", "eth0", "wg0", "wg0", "eth0"], _out.Select(r => r.Interface));
        Assert.Equal(0, b.Count);
        Assert.Equal(0, b.ForcedReleases);
    }

    [Fact]
    public void EqualTimestamps_KeepFrameOrder_WhateverTheArrivalOrder()
    {
        using var b = new TimeOrderBuffer(Handler, TimeSpan.FromSeconds(1));
        Add(b, T0, 9);
        Add(b, T0, 2);
        Add(b, T0, 5);
        b.Flush();
        Assert.Equal([2L, 5, 9], _out.Select(r => r.Frame));
    }

    [Fact]
    public void Frames_AreReleasedOnceTheNewestIsAWindowPastThem()
    {
        using var b = new TimeOrderBuffer(Handler, TimeSpan.FromSeconds(1));
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

        // A late frame older than the window is released at once, still before anything newer.
        Add(b, T0, 6);
        Assert.Equal([1L, 2, 3, 4, 6], _out.Select(r => r.Frame));
        b.Flush();
        Assert.Equal(5, _out[^1].Frame);
        Assert.Equal(0, b.ForcedReleases);
    }

    [Fact]
    public void ZeroWindow_ReleasesEachFrameAtOnce()
    {
        using var b = new TimeOrderBuffer(Handler, TimeSpan.Zero);
        Add(b, T0 + Second, 1);
        Assert.Single(_out);
        Add(b, T0, 2);
        Assert.Equal([1L, 2], _out.Select(r => r.Frame));
    }

    [Fact]
    public void MaxFrames_ForcesReleases_AndCountsThem()
    {
        using var b = new TimeOrderBuffer(Handler, TimeSpan.FromHours(1), maxFrames: 3);
        Assert.Equal(3, b.MaxFrames);
        Assert.Equal(TimeSpan.FromHours(1), b.Window);
        for (int i = 1; i <= 5; i++)
        {
            Add(b, T0 + ((6 - i) * Second), i);
        }

        Assert.Equal(3, b.Count);
        Assert.Equal(2, b.ForcedReleases);
        // Each forced release takes the oldest held: frame 4 (t=2) after the 4th, then frame 5 (t=1) after the 5th.
        Assert.Equal([4L, 5], _out.Select(r => r.Frame));

        b.Flush();
        Assert.Equal([4L, 5, 3, 2, 1], _out.Select(r => r.Frame));
        Assert.Equal(2, b.ForcedReleases);
    }

    [Fact]
    public void Flush_ReleasesEverything_AndTheBufferCanGoOn()
    {
        using var b = new TimeOrderBuffer(Handler, TimeSpan.FromSeconds(30));
        Add(b, T0 + Second, 1);
        Add(b, T0, 2);
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
        using var b = new TimeOrderBuffer(Handler, TimeSpan.FromSeconds(5));
        Add(b, T0 + 2, 1_000_000_000_001, data: large);
        Add(b, T0 + 1, 7, data: []);
        Add(b, T0, 42, data: source);
        source[0] = 99; // the buffer holds a copy, not the caller's array
        b.Flush();

        Assert.Equal([42L, 7, 1_000_000_000_001], _out.Select(r => r.Frame));
        Assert.Equal([1, 2, 3], _out[0].Data);
        Assert.Empty(_out[1].Data);
        Assert.Equal(large, _out[2].Data);
    }

    [Fact]
    public void Dispose_DropsWhatIsHeld_WithoutReleasingIt()
    {
        var b = new TimeOrderBuffer(Handler, TimeSpan.FromSeconds(5));
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
    public void RandomArrival_ComesOutSorted()
    {
        var rng = new Random(11);
        var frames = Enumerable.Range(1, 5000).Select(i => (Ns: T0 + (rng.Next(10_000) * (Second / 1000)), Frame: (long)i)).ToList();
        using var b = new TimeOrderBuffer(Handler, TimeSpan.FromSeconds(20));
        foreach ((long ns, long frame) in frames)
        {
            Add(b, ns, frame);
        }

        b.Flush();
        Assert.Equal(frames.OrderBy(f => f.Ns).ThenBy(f => f.Frame).Select(f => f.Frame), _out.Select(r => r.Frame));
    }
}
