using System.Diagnostics;

namespace DnsWarden.E2E.Leak;

/// <summary>
/// Every leak phase on one <see cref="LeakNet"/> topology, one pcapng each. Each phase sets its routes and
/// resolver, then runs checked client steps while dumpcap records the client's eth0, tun0 and lo.
/// </summary>
public static class LeakScenario
{
    public const string CleanTunnel = "1-clean-tunnel";
    public const string LeakA = "2-leak-a";
    public const string LeakB = "3-leak-b";
    public const string LeakC = "4-leak-c";
    public const string LeakCUnlistedDoh = "4b-leak-c-unlisted-doh";
    public const string LeakD = "5-leak-d";
    public const string Exfiltration = "6-exfiltration";
    public const string Mixed = "7-mixed";

    public static IReadOnlyList<string> Phases { get; } =
        [CleanTunnel, LeakA, LeakB, LeakC, LeakCUnlistedDoh, LeakD, Exfiltration, Mixed];

    /// <summary>SNI of phase 4's curl DoH: in the built-in endpoint list (Google Public DNS).</summary>
    public const string ListedDohServerName = "dns.google";
    public const string ListedDohProvider = "Google Public DNS";

    /// <summary>SNI of phase 4b's kdig DoH: in no list.</summary>
    public const string UnlistedDohServerName = "doh.unlisted.test";

    public const int ExfilQueryCount = 40;
    public const int ExfilLabelLength = 50;

    /// <summary>The exfiltration burst's names: fixed-seed base32-ish 50-char labels under <see cref="LeakNet.ExfilParent"/>.</summary>
    public static IReadOnlyList<string> ExfilNames { get; } = MakeExfilNames();

    /// <summary>Junk sent to the ISP resolver's UDP 53 in the mixed phase: shorter than a DNS header, so no server answers it.</summary>
    public const string JunkPayload = "\\x00\\x01junk";

    public static async Task<LeakScenarioResult> RunAsync(string outputDirectory)
    {
        string? skip = LeakNet.SkipReason();
        if (skip is not null)
        {
            Assert.Skip(skip);
        }

        var total = Stopwatch.StartNew();
        Directory.CreateDirectory(outputDirectory);
        await using TestNet net = await TestNet.CreateAsync();
        LeakTopology t = await LeakNet.BuildAsync(net);
        TimeSpan setup = total.Elapsed;
        var captures = new Dictionary<string, LeakPhaseCapture>(StringComparer.Ordinal);
        string Out(string phase) => Path.Combine(outputDirectory, phase + ".pcapng");

        await t.UseTunnelAsync();
        captures[CleanTunnel] = await t.CaptureAsync(CleanTunnel, Out(CleanTunnel),
        [
            LeakTopology.Dns("dig-udp", "dig", [LeakNet.WebName, "A"], "NOERROR", LeakNet.WebV4),
            LeakTopology.Dns("dig-tcp", "dig", ["+tcp", LeakNet.WebName, "A"], "NOERROR", LeakNet.WebV4),
            LeakTopology.Dns("dig6-aaaa", "dig", ["-6", "@" + LeakNet.TunnelResolverV6, LeakNet.WebName, "AAAA"], "NOERROR", LeakNet.WebV6),
            LeakTopology.Curl("curl-web", ["-k", $"https://{LeakNet.WebName}/{LeakNet.SmallPage}"], LeakNet.SmallPageText),
        ], liveProfile: "full-tunnel");

        await t.UsePhysicalAsync();
        captures[LeakA] = await t.CaptureAsync(LeakA, Out(LeakA),
        [
            LeakTopology.Dns("dig-udp", "dig", ["@" + LeakNet.IspResolverV4, "a1.leak.test", "A"], "NOERROR", LeakNet.QueryV4),
            LeakTopology.Dns("dig-tcp", "dig", ["+tcp", "@" + LeakNet.IspResolverV4, "a2.leak.test", "A"], "NOERROR", LeakNet.QueryV4),
            LeakTopology.Dns("dig6-udp", "dig", ["-6", "@" + LeakNet.IspResolverV6, "a3.leak.test", "AAAA"], "NOERROR", LeakNet.QueryV6),
        ], liveProfile: "full-tunnel");

        captures[LeakB] = await t.CaptureAsync(LeakB, Out(LeakB),
        [
            LeakTopology.Dns("blocked-eth0", "dig", ["@" + LeakNet.IspResolverV4, LeakNet.BlockedName, "A"], "NOERROR", LeakNet.BlockedV4),
            LeakTopology.Dns("direct-eth0", "dig", ["@" + LeakNet.IspResolverV4, LeakNet.DirectName, "A"], "NOERROR", LeakNet.DirectV4),
            LeakTopology.Dns("blocked-tun0", "dig", ["@" + LeakNet.TunnelResolverV4, LeakNet.BlockedName, "A"], "NOERROR", LeakNet.BlockedV4),
        ]);

        // curl -4: one DoH lookup (A only) on one connection, and one web connection. --doh-insecure: -k does not
        // cover the DoH transfer, and kresd's certificate is self-signed.
        captures[LeakC] = await t.CaptureAsync(LeakC, Out(LeakC),
        [
            LeakTopology.Dns("kdig-dot", "kdig", ["+tls", "@" + LeakNet.PublicResolverV4, "c1.leak.test", "A"], "NOERROR", LeakNet.QueryV4),
            LeakTopology.Curl("curl-doh", ["-4", "-k", "--doh-insecure", "--doh-url", $"https://{ListedDohServerName}/dns-query",
                "--resolve", $"{ListedDohServerName}:{LeakNet.DohPort}:{LeakNet.PublicResolverV4}", $"https://{LeakNet.WebName}/{LeakNet.SmallPage}"],
                LeakNet.SmallPageText),
        ], liveProfile: "full-tunnel");

        // +tls-sni puts the name on the wire without +tls-hostname's certificate check, which kresd's self-signed one fails.
        captures[LeakCUnlistedDoh] = await t.CaptureAsync(LeakCUnlistedDoh, Out(LeakCUnlistedDoh),
        [
            LeakTopology.Dns("kdig-doh-unlisted", "kdig", ["+https", "@" + LeakNet.PublicResolverV4, "+tls-sni=" + UnlistedDohServerName, "c2.leak.test", "A"],
                "NOERROR", LeakNet.QueryV4),
        ]);

        await t.UseTunnelAsync();
        await t.RouteWebAroundTunnelAsync();
        string webRoute = await t.RouteGetAsync(LeakNet.WebV4);
        if (!webRoute.Contains("dev " + LeakNet.PhysicalInterface, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Phase {LeakD}: {LeakNet.WebV4} should route via eth0: {webRoute}");
        }

        captures[LeakD] = await t.CaptureAsync(LeakD, Out(LeakD),
        [
            LeakTopology.Curl("curl-split", ["-4", "-k", $"https://{LeakNet.WebName}/{LeakNet.SmallPage}"], LeakNet.SmallPageText),
        ], liveProfile: "full-tunnel");

        await t.UseTunnelAsync();
        string batch = net.TempPath("exfil-queries.txt");
        await File.WriteAllLinesAsync(batch, ExfilNames.Select(n => $"@{LeakNet.TunnelResolverV4} {n} A +time=3 +tries=1"));
        captures[Exfiltration] = await t.CaptureAsync(Exfiltration, Out(Exfiltration),
        [
            LeakTopology.DigBatch("dig-burst", batch, ExfilQueryCount),
        ]);

        await t.UsePhysicalAsync();
        captures[Mixed] = await t.CaptureAsync(Mixed, Out(Mixed),
        [
            LeakTopology.Curl("curl-big", ["-4", "-k", "--resolve", $"{LeakNet.WebName}:{LeakNet.WebPort}:{LeakNet.WebV4}", $"https://{LeakNet.WebName}/{LeakNet.BigPage}"],
                "line 00000", LeakNet.BigPageBytes),
            LeakTopology.Run("udp-junk", "bash", ["-c", $"printf '{JunkPayload}' > /dev/udp/{LeakNet.IspResolverV4}/53"], "junk sent"),
            LeakTopology.Dns("dig-tun0", "dig", ["@" + LeakNet.TunnelResolverV4, LeakNet.DirectName, "A"], "NOERROR", LeakNet.DirectV4),
        ]);

        await net.DisposeAsync();
        return new LeakScenarioResult(outputDirectory, captures, setup, total.Elapsed);
    }

    private static string[] MakeExfilNames()
    {
        const string Base32 = "abcdefghijklmnopqrstuvwxyz234567";
        var random = new Random(20260615);
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (names.Count < ExfilQueryCount)
        {
            char[] label = new char[ExfilLabelLength];
            for (int i = 0; i < label.Length; i++)
            {
                label[i] = Base32[random.Next(Base32.Length)];
            }

            names.Add(new string(label) + "." + LeakNet.ExfilParent);
        }

        return [.. names.Order(StringComparer.Ordinal)];
    }
}

/// <summary>The captures of <see cref="LeakScenario.RunAsync"/>, by phase name.</summary>
public sealed record LeakScenarioResult(
    string OutputDirectory,
    IReadOnlyDictionary<string, LeakPhaseCapture> Captures,
    TimeSpan SetupTime,
    TimeSpan Elapsed);
