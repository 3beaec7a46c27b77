using System.Diagnostics;
using DnsWarden.Capture.Files;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Capture.Tests.Files;

/// <summary>Files written by our writers must read the same in tshark/tcpdump (no live capture here).</summary>
public sealed class TsharkOracleTests
{
    private static string? Find(string tool) =>
        new[] { "/usr/bin/", "/usr/sbin/", "/usr/local/bin/" }.Select(d => d + tool).FirstOrDefault(File.Exists);

    private static (int ExitCode, string Stdout, string Stderr) Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        using StreamReader stdoutReader = p.StandardOutput;
        using StreamReader stderrReader = p.StandardError;
        Task<string> stdout = stdoutReader.ReadToEndAsync();
        Task<string> stderr = stderrReader.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{exe} did not finish");
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static byte[] UdpFrame(int payloadLength)
    {
        // Ethernet + IPv4 + UDP toward 198.51.100.53:53, built only in memory.
        byte[] f = new byte[14 + 20 + 8 + payloadLength];
        f[12] = 0x08;
        f[14] = 0x45;
        int ipLen = 20 + 8 + payloadLength;
        f[16] = (byte)(ipLen >> 8);
        f[17] = (byte)ipLen;
        f[22] = 64;
        f[23] = 17;
        byte[] src = [192, 168, 1, 10];
        byte[] dst = [198, 51, 100, 53];
        src.CopyTo(f, 26);
        dst.CopyTo(f, 30);
        f[34] = 0xC0;
        f[37] = 53;
        f[38] = (byte)((8 + payloadLength) >> 8);
        f[39] = (byte)(8 + payloadLength);
        return f;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Tshark_AgreesOnInterfaceNamesAndLengths(bool bigEndian)
    {
        string? tshark = Find("tshark");
        if (tshark is null)
        {
            Assert.Skip("tshark is not installed (apt-get install tshark)");
        }

        string path = Path.Combine(Path.GetTempPath(), $"dnsw-oracle-{Guid.NewGuid():N}.pcapng");
        var expected = new List<string>();
        try
        {
            using (var w = new PcapNgWriter(File.Create(path), bigEndian: bigEndian))
            {
                string[] names = ["eth0", "tun0", "wlan0"];
                foreach (string n in names)
                {
                    w.AddInterface(LinkType.Ethernet, n, timestampResolution: n == "wlan0" ? (byte)6 : (byte)9);
                }

                for (int i = 0; i < 30; i++)
                {
                    int iface = i % 3;
                    byte[] frame = UdpFrame(i * 7);
                    int original = i % 5 == 0 ? frame.Length + 100 : frame.Length;
                    w.WritePacket(iface, 1_700_000_000_000_000_000 + (i * 1_000_000L), frame, original);
                    expected.Add($"{names[iface]}\t{original}");
                }
            }

            var ours = new List<string>();
            using (ICaptureFileReader r = CaptureFileReader.Open(path))
            {
                while (r.TryReadNext(out CapturedPacket p))
                {
                    ours.Add($"{p.InterfaceName}\t{p.OriginalLength}");
                }

                Assert.True(r.IsEndOfFile);
            }

            (int code, string stdout, string stderr) = Run(tshark, "-n", "-r", path, "-T", "fields", "-e", "frame.interface_name", "-e", "frame.len");
            Assert.True(code == 0, stderr);
            string[] theirs = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(expected, ours);
            Assert.Equal(expected, theirs);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Tcpdump_ReadsOurPcap_AndCountsTheSamePackets()
    {
        string? tcpdump = Find("tcpdump");
        if (tcpdump is null)
        {
            Assert.Skip("tcpdump is not installed (apt-get install tcpdump)");
        }

        string path = Path.Combine(Path.GetTempPath(), $"dnsw-oracle-{Guid.NewGuid():N}.pcap");
        try
        {
            using (var w = new PcapWriter(File.Create(path), LinkType.Ethernet, nanoseconds: false))
            {
                for (int i = 0; i < 12; i++)
                {
                    w.WritePacket(1_700_000_000_000_000_000 + (i * 1000L), UdpFrame(20 + i));
                }
            }

            (int code, string stdout, string stderr) = Run(tcpdump, "-r", path, "-nn");
            Assert.True(code == 0, stderr);
            string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(12, lines.Length);
            Assert.All(lines, l => Assert.Contains("192.168.1.10.49152 > 198.51.100.53.53", l, StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
