using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.E2E.Guard;

/// <summary>
/// libnftables from inside a throwaway namespace, checked with the real <c>nft</c> command there: the enforcement
/// plane's lever for DNAT and for the sets of addresses DNS handed out. The root namespace is only read, to prove
/// nothing reached it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NftablesNamespaceTests
{
    private static string? SkipReason() =>
        HostTools.NotRootReason() ?? HostTools.MissingToolsReason("ip", "nft") ?? (NftContext.IsAvailable ? null : "libnftables.so.1 is not installed");

    private static async Task<string> RootTablesAsync() => (await ProcessRunner.RunAsync("nft", ["list", "tables"])).EnsureSuccess().StdOut;

    [Fact]
    public async Task TableSetAndElementsLandInTheNamespaceOnly()
    {
        if (SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        await using TestNet net = await TestNet.CreateAsync();
        string ns = await net.AddNamespaceAsync("nft");
        string rootBefore = await RootTablesAsync();

        NftResult result = await NetworkNamespace.RunAsync(ns, () =>
        {
            using var nft = new NftContext();
            return nft.Run("""
                add table inet dnsw_test
                add set inet dnsw_test allowed4 { type ipv4_addr; flags timeout; }
                add set inet dnsw_test allowed6 { type ipv6_addr; flags timeout; }
                add element inet dnsw_test allowed4 { 10.1.2.3 timeout 30s, 10.1.2.4 timeout 5m }
                add element inet dnsw_test allowed6 { fd00::5 timeout 30s }
                """);
        });
        Assert.True(result.Ok, result.Error);

        CommandResult listed = await net.ExecAsync(ns, "nft", ["list", "table", "inet", "dnsw_test"]);
        listed.EnsureSuccess();
        Assert.Contains("10.1.2.3", listed.StdOut, StringComparison.Ordinal);
        Assert.Contains("10.1.2.4", listed.StdOut, StringComparison.Ordinal);
        Assert.Contains("fd00::5", listed.StdOut, StringComparison.Ordinal);
        Assert.Equal(rootBefore, await RootTablesAsync());
        Assert.DoesNotContain("dnsw_test", await RootTablesAsync(), StringComparison.Ordinal);

        // A listing through the library, as JSON, sees the same elements.
        NftResult json = await NetworkNamespace.RunAsync(ns, () =>
        {
            using var nft = new NftContext(json: true);
            return nft.Run("list set inet dnsw_test allowed4");
        });
        Assert.True(json.Ok, json.Error);
        Assert.Contains("\"10.1.2.3\"", json.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARefusedBatchChangesNothingAndSaysWhy()
    {
        if (SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        await using TestNet net = await TestNet.CreateAsync();
        string ns = await net.AddNamespaceAsync("nft");
        NftResult result = await NetworkNamespace.RunAsync(ns, () =>
        {
            using var nft = new NftContext();
            // The bad line names a set that does not exist. Never a malformed address: nft would try it as a host name.
            return nft.Run("add table inet dnsw_atomic\nadd set inet dnsw_atomic s { type ipv4_addr; }\nadd element inet dnsw_atomic nosuchset { 10.1.2.3 }\n");
        });

        Assert.False(result.Ok);
        Assert.Contains("Error:", result.Error, StringComparison.Ordinal);
        // The kernel's refusal is named; libnftables 1.0.6 points its caret at the wrong line for kernel errors, so
        // only the reason is checked, and that the whole batch was refused.
        Assert.Contains("No such file or directory", result.Error, StringComparison.Ordinal);
        CommandResult tables = await net.ExecAsync(ns, "nft", ["list", "tables"]);
        Assert.DoesNotContain("dnsw_atomic", tables.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingNamespaceIsAnErrorNamingIt()
    {
        if (SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        IOException e = await Assert.ThrowsAsync<IOException>(() => NetworkNamespace.RunAsync("dnsw-t-does-not-exist", () => 0));
        Assert.Contains("/run/netns/dnsw-t-does-not-exist", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => NetworkNamespace.PathOf("../etc"));
    }

    /// <summary>
    /// What one set insertion costs through the library (the jail holds each DNS answer until its addresses are in
    /// the set). Printed, not asserted: docs/BENCHMARKS.md carries the figure.
    /// </summary>
    [Fact]
    public async Task MeasuresOneElementInsertion()
    {
        if (SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        await using TestNet net = await TestNet.CreateAsync();
        string ns = await net.AddNamespaceAsync("nft");
        double[] micros = await NetworkNamespace.RunAsync(ns, () =>
        {
            using var nft = new NftContext();
            Assert.True(nft.Run("add table inet dnsw_t\nadd set inet dnsw_t a4 { type ipv4_addr; flags timeout; }").Ok);
            var times = new double[2000];
            for (int i = 0; i < times.Length; i++)
            {
                string command = string.Create(CultureInfo.InvariantCulture, $"add element inet dnsw_t a4 {{ 10.{i / 250 % 250}.{i % 250}.1 timeout 300s }}");
                long start = Stopwatch.GetTimestamp();
                NftResult r = nft.Run(command);
                times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                Assert.True(r.Ok, r.Error);
            }

            return times;
        });

        double[] batches = await NetworkNamespace.RunAsync(ns, () =>
        {
            using NftSetElements sets = NftSetElements.Open("dnsw_t");
            var times = new double[2000];
            byte[] address = [10, 0, 0, 1];
            for (int i = 0; i < times.Length; i++)
            {
                address[1] = (byte)(100 + (i / 250 % 100));
                address[2] = (byte)(i % 250);
                long start = Stopwatch.GetTimestamp();
                Assert.True(sets.Add("a4", address, TimeSpan.FromSeconds(300)));
                Assert.True(sets.Commit(out string? error), error);
                times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            }

            return times;
        });

        string Describe(string what, double[] values)
        {
            Array.Sort(values);
            double P(double q) => values[(int)(q * (values.Length - 1))];
            return string.Create(CultureInfo.InvariantCulture, $"{what}, {values.Length} calls: p50 {P(0.5):F1} µs, p99 {P(0.99):F1} µs, max {values[^1]:F1} µs");
        }

        TestContext.Current.TestOutputHelper?.WriteLine(Describe("libnftables add element", micros));
        TestContext.Current.TestOutputHelper?.WriteLine(Describe("hand-built NEWSETELEM batch", batches));
        CommandResult count = await net.ExecAsync(ns, "nft", ["list", "set", "inet", "dnsw_t", "a4"]);
        Assert.Contains("10.7.249.1", count.StdOut, StringComparison.Ordinal);
        Assert.Contains("10.107.249.1", count.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HandBuiltBatchesAddAddressesWithTheirTimeoutsAndNameARefusal()
    {
        if (SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        await using TestNet net = await TestNet.CreateAsync();
        string ns = await net.AddNamespaceAsync("nft");
        (bool Ok, string? Error, bool MissingOk, string? MissingError) result = await NetworkNamespace.RunAsync(ns, () =>
        {
            using (var nft = new NftContext())
            {
                Assert.True(nft.Run("""
                    add table inet dnsw_test
                    add set inet dnsw_test allowed4 { type ipv4_addr; flags timeout; }
                    add set inet dnsw_test allowed6 { type ipv6_addr; flags timeout; }
                    """).Ok);
            }

            using NftSetElements sets = NftSetElements.Open("dnsw_test");
            Assert.True(sets.Add("allowed4", [203, 0, 113, 7], TimeSpan.FromMinutes(5)));
            Assert.True(sets.Add("allowed4", [203, 0, 113, 8], TimeSpan.FromMinutes(5)));
            Assert.True(sets.Add("allowed6", System.Net.IPAddress.Parse("2001:db8::7").GetAddressBytes(), TimeSpan.FromHours(1)));
            Assert.True(sets.Add("allowed4", [203, 0, 113, 9], TimeSpan.FromSeconds(90)));
            bool ok = sets.Commit(out string? error);

            // Adding again what is there is not an error (as `nft add element`); a set that does not exist is.
            Assert.True(sets.Add("allowed4", [203, 0, 113, 7], TimeSpan.FromMinutes(5)));
            Assert.True(sets.Commit(out string? again), again);
            Assert.True(sets.Add("nosuchset", [203, 0, 113, 10], TimeSpan.FromMinutes(5)));
            bool missingOk = sets.Commit(out string? missingError);
            return (ok, error, missingOk, missingError);
        });

        Assert.True(result.Ok, result.Error);
        Assert.False(result.MissingOk);
        Assert.Contains("No such file or directory", result.MissingError, StringComparison.Ordinal);
        CommandResult listed = await net.ExecAsync(ns, "nft", ["list", "table", "inet", "dnsw_test"]);
        listed.EnsureSuccess();
        foreach (string element in new[] { "203.0.113.7 timeout 5m", "203.0.113.8 timeout 5m", "203.0.113.9 timeout 1m30s", "2001:db8::7 timeout 1h" })
        {
            Assert.Contains(element, listed.StdOut, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("203.0.113.10", listed.StdOut, StringComparison.Ordinal);
    }
}
