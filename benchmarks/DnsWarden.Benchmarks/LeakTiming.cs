using DnsWarden.Indicators;
using System.Diagnostics;
using DnsWarden.Capture.Dissect;
using DnsWarden.Capture.Files;
using DnsWarden.Capture.Live;
using DnsWarden.Leak;
using DnsWarden.Policy;

namespace DnsWarden.Benchmarks;

/// <summary>A quick breakdown of where a capture's time goes: reading, dissecting, the whole pipeline (frames in memory).</summary>
internal static class LeakTiming
{
    public static void Run(string path)
    {
        string[] names = [.. Enumerable.Range(0, 5000).Select(i => $"host{i}.example{i % 37}.com")];
        var bases = DnsWarden.Indicators.BaseDomains.Default;
        var exfil = new DnsWarden.Indicators.ExfiltrationDetector(ExfiltrationPolicy.Default, bases);
        for (int round = 0; round < 2; round++)
        {
            var t = Stopwatch.StartNew();
            for (int i = 0; i < 1_000_000; i++)
            {
                bases.GetBaseDomain(names[i % names.Length]);
            }

            double baseNs = t.Elapsed.TotalMilliseconds;
            t.Restart();
            for (int i = 0; i < 1_000_000; i++)
            {
                exfil.AddQuery(1_000_000_000L * (i / 10000), names[i % names.Length], 1);
            }

            Console.WriteLine($"GetBaseDomain {baseNs:0} ns/op; ExfiltrationDetector.AddQuery {t.Elapsed.TotalMilliseconds:0} ns/op");
        }

        var sw = Stopwatch.StartNew();
        long bytes = 0;
        using (ICaptureFileReader reader = CaptureFileReader.Open(path))
        {
            while (reader.TryReadNext(out CapturedPacket p))
            {
                bytes += p.Data.Length;
            }
        }

        Console.WriteLine($"read only: {sw.Elapsed.TotalMilliseconds:0} ms, {bytes} bytes");
        sw.Restart();
        int streamed = 0;
        var direct = new LeakPipeline(Profiles.Create(PolicyProfile.FullTunnel), _ => streamed++);
        using (ICaptureFileReader reader = CaptureFileReader.Open(path))
        {
            while (reader.TryReadNext(out CapturedPacket p))
            {
                var origin = new FrameOrigin(p.TimestampNs, p.InterfaceId, p.InterfaceName ?? "", p.LinkType, p.OriginalLength);
                direct.Process(in origin, p.Data);
            }
        }

        direct.Complete();
        Console.WriteLine($"first pass, file straight into the pipeline: {sw.Elapsed.TotalMilliseconds:0} ms, {streamed} events");
        var frames = new List<(FrameOrigin, byte[])>();
        sw.Restart();
        using (ICaptureFileReader reader = CaptureFileReader.Open(path))
        {
            while (reader.TryReadNext(out CapturedPacket p))
            {
                frames.Add((new FrameOrigin(p.TimestampNs, p.InterfaceId, p.InterfaceName ?? "", p.LinkType, p.OriginalLength), p.Data.ToArray()));
            }
        }

        Console.WriteLine($"read+copy {frames.Count} frames: {sw.Elapsed.TotalMilliseconds:0} ms");
        for (int round = 0; round < 3; round++)
        {
            sw.Restart();
            var dissector = new FrameDissector(_ => { });
            foreach ((FrameOrigin o, byte[] d) in frames)
            {
                dissector.Process(in o, d);
            }

            double dissect = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            int events = 0;
            var pipeline = new LeakPipeline(Profiles.Create(PolicyProfile.FullTunnel), _ => events++);
            foreach ((FrameOrigin o, byte[] d) in frames)
            {
                pipeline.Process(in o, d);
            }

            pipeline.Complete();
            double whole = sw.Elapsed.TotalMilliseconds;
            Console.WriteLine($"dissector only {dissect:0} ms ({frames.Count / dissect / 1000:0.00} M pkt/s); pipeline {whole:0} ms ({frames.Count / whole / 1000:0.00} M pkt/s), {events} events");
        }
    }
}
