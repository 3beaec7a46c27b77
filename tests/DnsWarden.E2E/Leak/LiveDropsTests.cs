using System.Globalization;
using System.Text.Json;

namespace DnsWarden.E2E.Leak;

/// <summary>
/// A live watch that falls behind says so. Stopped (SIGSTOP) while a flood overruns its capture buffer, it must report
/// the kernel's drops in its summary, and every datagram sent must be either judged or counted as dropped: a figure of
/// "0 drops" means nothing was missed, not that nothing was counted.
/// </summary>
public sealed class LiveDropsTests
{
    // More than the watch's 32 MiB buffer holds: on loopback each datagram takes about 150 bytes of it, twice (sent and received).
    private const int Datagrams = 300_000;

    [Fact]
    public async Task AWatchThatFallsBehind_ReportsTheKernelsDrops_AndNoDatagramGoesUncounted()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("python3");
        await using TestNet net = await TestNet.CreateAsync();
        string ns = await net.AddNamespaceAsync("drops");
        string events = net.TempPath("events.jsonl");
        NetnsProcess watch = net.StartProcess(ns, "dnsw", DnswProgram.Program,
            [.. DnswProgram.Prefix, "leak", "watch", "--iface", "lo", "--duration", "0", "--format", "json", "--no-bpf", "--out", events]);
        await watch.WaitForOutputAsync("watching", TimeSpan.FromSeconds(30));

        watch.Signal(ProcessSignal.Stop);
        CommandResult flood;
        try
        {
            flood = await net.ExecAsync(ns, "python3",
                ["-c", "import socket\nr=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);r.bind(('127.0.0.1',0))\n" +
                       "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);a=r.getsockname();p=bytes(40)\n" +
                       $"for _ in range({Datagrams}): s.sendto(p,a)\nprint('sent')"],
                TimeSpan.FromSeconds(60));
        }
        finally
        {
            watch.Signal(ProcessSignal.Continue);
        }

        Assert.Contains("sent", flood.StdOut, StringComparison.Ordinal);
        watch.Signal(ProcessSignal.Interrupt);
        await watch.Exited.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(watch.ExitCode == 0, watch.Describe());

        JsonElement summary = JsonDocument.Parse((await File.ReadAllLinesAsync(events))[^1]).RootElement;
        long frames = summary.GetProperty("frames").GetInt64();
        JsonElement lo = Assert.Single(summary.GetProperty("drops").EnumerateArray());
        long dropped = lo.GetProperty("kernel").GetInt64();
        string figures = string.Create(CultureInfo.InvariantCulture, $"{Datagrams} sent, {frames} frames, {dropped} dropped: {summary}");
        Assert.True(frames < Datagrams, figures);
        Assert.True(dropped > 0, figures);

        // A datagram missed on loopback is a dropped received copy at least (its sent copy may be dropped too).
        Assert.True(frames + dropped >= Datagrams, figures);
    }
}
