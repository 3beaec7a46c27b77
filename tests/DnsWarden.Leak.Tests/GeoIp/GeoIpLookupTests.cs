using System.Net;
using DnsWarden.Leak.Enrich;
using DnsWarden.Leak.Events;

namespace DnsWarden.Leak.Tests.GeoIp;

public sealed class GeoIpLookupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dnsw-geoip-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Save(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static MmdbWriter CountryDb(int ipVersion = 6, int recordSize = 24)
    {
        var w = new MmdbWriter(ipVersion, recordSize, "GeoLite2-Country");
        w.Add("81.2.69.0/24", MmdbWriter.CountryRecord("GB", "United Kingdom"))
            .Add("81.2.69.160/27", MmdbWriter.CountryRecord("DE", "Germany"))
            .Add("1.1.1.0/24", MmdbWriter.CountryRecord("AU", "Australia"))
            .Add("9.9.9.0/24", MmdbWriter.CountryRecord("CH", "Switzerland", registeredOnly: true))
            .Add("10.0.0.0/8", MmdbWriter.CountryRecord("ZZ", "Private"));
        if (ipVersion == 6)
        {
            w.Add("2001:4860::/32", MmdbWriter.CountryRecord("US", "United States"))
                .Add("2001:db8::/32", MmdbWriter.CountryRecord("ZZ", "Documentation"));
        }

        return w;
    }

    private static MmdbWriter AsnDb(int ipVersion = 6, int recordSize = 24)
    {
        var w = new MmdbWriter(ipVersion, recordSize, "GeoLite2-ASN");
        w.Add("1.1.1.0/24", MmdbWriter.AsnRecord(13335, "CLOUDFLARENET"))
            .Add("81.2.64.0/20", MmdbWriter.AsnRecord(20712, "Andrews & Arnold Ltd"))
            .Add("8.8.8.0/24", MmdbWriter.AsnRecord(15169, "GOOGLE"));
        if (ipVersion == 6)
        {
            w.Add("2001:4860::/32", MmdbWriter.AsnRecord(15169, "GOOGLE"));
        }

        return w;
    }

    public static TheoryData<int, int> Layouts => new()
    {
        { 4, 24 },
        { 4, 28 },
        { 4, 32 },
        { 6, 24 },
        { 6, 28 },
        { 6, 32 },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Writer_output_reads_the_same_in_mmdblookup_and_in_our_lookup(int ipVersion, int recordSize)
    {
        MmdbLookupOracle.SkipIfMissing();
        string country = Save($"country-{ipVersion}-{recordSize}.mmdb", CountryDb(ipVersion, recordSize).Build());
        string asn = Save($"asn-{ipVersion}-{recordSize}.mmdb", AsnDb(ipVersion, recordSize).Build());

        // The oracle first: the test writer must produce what libmaxminddb reads.
        Assert.Equal("GB", MmdbLookupOracle.Lookup(country, "81.2.69.1", "country", "iso_code"));
        Assert.Equal("DE", MmdbLookupOracle.Lookup(country, "81.2.69.170", "country", "iso_code"));
        Assert.Equal("United Kingdom", MmdbLookupOracle.Lookup(country, "81.2.69.200", "country", "names", "en"));
        Assert.Equal("GB", MmdbLookupOracle.Lookup(country, "81.2.69.192", "country", "iso_code"));
        Assert.Equal("AU", MmdbLookupOracle.Lookup(country, "1.1.1.1", "country", "iso_code"));
        Assert.Null(MmdbLookupOracle.Lookup(country, "8.8.8.8"));
        Assert.Equal("13335", MmdbLookupOracle.Lookup(asn, "1.1.1.1", "autonomous_system_number"));
        Assert.Equal("CLOUDFLARENET", MmdbLookupOracle.Lookup(asn, "1.1.1.1", "autonomous_system_organization"));
        if (ipVersion == 6)
        {
            Assert.Equal("US", MmdbLookupOracle.Lookup(country, "2001:4860:4860::8888", "country", "iso_code"));
            Assert.Equal("15169", MmdbLookupOracle.Lookup(asn, "2001:4860:4860::8888", "autonomous_system_number"));
        }

        Assert.True(GeoIpLookup.TryOpen([country, asn], out GeoIpLookup? lookup, out string? error), error);
        using (lookup)
        {
            Assert.Equal(new GeoInfo("GB", "United Kingdom", 20712, "Andrews & Arnold Ltd"), lookup!.Lookup(IPAddress.Parse("81.2.69.1")));
            Assert.Equal(new GeoInfo("DE", "Germany", 20712, "Andrews & Arnold Ltd"), lookup.Lookup(IPAddress.Parse("81.2.69.170")));
            Assert.Equal(new GeoInfo("AU", "Australia", 13335, "CLOUDFLARENET"), lookup.Lookup(IPAddress.Parse("1.1.1.1")));

            // Only the ASN file knows 8.8.8.8: a partial answer, not none.
            Assert.Equal(new GeoInfo(null, null, 15169, "GOOGLE"), lookup.Lookup(IPAddress.Parse("8.8.8.8")));
            Assert.Null(lookup.Lookup(IPAddress.Parse("4.4.4.4")));
            Assert.Equal(
                new GeoInfo("CH", "Switzerland", null, null),
                lookup.Lookup(IPAddress.Parse("9.9.9.9")));

            // Agrees with the oracle for every address of a small sweep across the written networks.
            for (int last = 0; last < 256; last += 5)
            {
                string ip = $"81.2.69.{last}";
                Assert.Equal(MmdbLookupOracle.Lookup(country, ip, "country", "iso_code"), lookup.Lookup(IPAddress.Parse(ip))?.CountryCode);
            }

            GeoInfo? v6 = lookup.Lookup(IPAddress.Parse("2001:4860:4860::8888"));
            if (ipVersion == 6)
            {
                Assert.Equal(new GeoInfo("US", "United States", 15169, "GOOGLE"), v6);
            }
            else
            {
                Assert.Null(v6);
            }
        }
    }

    [Fact]
    public void Files_merge_in_order_first_answer_wins()
    {
        string a = Save("a.mmdb", new MmdbWriter(6, 24, "GeoLite2-City").Add("1.1.1.0/24", MmdbWriter.CountryRecord("AU", "Australia")).Build());
        string b = Save("b.mmdb", new MmdbWriter(6, 24, "GeoLite2-Country").Add("1.1.0.0/16", MmdbWriter.CountryRecord("NZ", "New Zealand")).Build());
        Assert.True(GeoIpLookup.TryOpen([a, b], out GeoIpLookup? lookup, out _));
        using (lookup)
        {
            Assert.Equal("AU", lookup!.Lookup(IPAddress.Parse("1.1.1.1"))?.CountryCode);
            Assert.Equal("NZ", lookup.Lookup(IPAddress.Parse("1.1.2.1"))?.CountryCode);
        }
    }

    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("127.0.0.1")]
    [InlineData("172.16.0.1")]
    [InlineData("192.168.1.1")]
    [InlineData("169.254.1.1")]
    [InlineData("100.64.0.1")]
    [InlineData("192.0.2.1")]
    [InlineData("198.51.100.7")]
    [InlineData("203.0.113.9")]
    [InlineData("224.0.0.251")]
    [InlineData("255.255.255.255")]
    [InlineData("0.0.0.0")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("fe80::1")]
    [InlineData("fd00::53")]
    [InlineData("2001:db8::1")]
    [InlineData("ff02::fb")]
    [InlineData("::ffff:10.0.0.1")]
    public void Special_ranges_are_never_looked_up(string ip)
    {
        Assert.False(GeoIpLookup.IsPublic(IPAddress.Parse(ip)));
        string country = Save("c.mmdb", CountryDb().Build());
        Assert.True(GeoIpLookup.TryOpen([country], out GeoIpLookup? lookup, out _));
        using (lookup)
        {
            // The file has records for 10/8 and 2001:db8::/32; they must not be used.
            Assert.Null(lookup!.Lookup(IPAddress.Parse(ip)));
        }
    }

    [Theory]
    [InlineData("1.1.1.1")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:1.1.1.1")]
    public void Public_addresses_are_public(string ip) => Assert.True(GeoIpLookup.IsPublic(IPAddress.Parse(ip)));

    [Fact]
    public void Mapped_addresses_answer_as_their_IPv4_and_answers_are_cached()
    {
        string country = Save("c.mmdb", CountryDb().Build());
        Assert.True(GeoIpLookup.TryOpen([country], out GeoIpLookup? lookup, out _));
        using (lookup)
        {
            GeoInfo? first = lookup!.Lookup(IPAddress.Parse("::ffff:1.1.1.1"));
            Assert.Equal("AU", first?.CountryCode);
            Assert.Same(first, lookup.Lookup(IPAddress.Parse("1.1.1.1")));

            // More distinct addresses than the cache holds: still right answers, bounded cache.
            for (int i = 0; i < GeoIpLookup.CacheCapacity + 100; i++)
            {
                var a = new IPAddress([(byte)(11 + (i >> 16)), (byte)(i >> 8), (byte)i, 1]);
                Assert.Null(lookup.Lookup(a));
            }

            Assert.Equal("AU", lookup.Lookup(IPAddress.Parse("1.1.1.1"))?.CountryCode);
        }
    }

    [Fact]
    public void Missing_empty_and_foreign_files_give_an_error_naming_the_file()
    {
        string good = Save("good.mmdb", CountryDb().Build());
        string empty = Save("empty.mmdb", []);
        string text = Save("text.mmdb", "this is not a database\n"u8.ToArray());
        string random = Save("random.mmdb", RandomBytes(4096, 7));
        string missing = Path.Combine(_dir, "missing.mmdb");

        foreach (string bad in new[] { empty, text, random, missing })
        {
            Assert.False(GeoIpLookup.TryOpen([good, bad], out GeoIpLookup? lookup, out string? error));
            Assert.Null(lookup);
            Assert.NotNull(error);
            Assert.StartsWith(bad + ":", error, StringComparison.Ordinal);
        }

        Assert.False(GeoIpLookup.TryOpen([], out _, out string? none));
        Assert.Equal("no GeoIP database given", none);
    }

    [Fact]
    public void Every_truncation_fails_cleanly_as_in_mmdblookup()
    {
        MmdbLookupOracle.SkipIfMissing();
        byte[] full = CountryDb().Build();
        string path = Path.Combine(_dir, "cut.mmdb");
        for (int len = 0; len < full.Length; len++)
        {
            File.WriteAllBytes(path, full.AsSpan(0, len).ToArray());
            bool ours = GeoIpLookup.TryOpen([path], out GeoIpLookup? lookup, out string? error);
            if (ours)
            {
                // Cut inside the metadata's trailing bytes can still parse; lookups must then not throw.
                using (lookup)
                {
                    _ = lookup!.Lookup(IPAddress.Parse("81.2.69.1"));
                }

                continue;
            }

            Assert.StartsWith(path + ":", error, StringComparison.Ordinal);
            if (len % 37 == 0)
            {
                // Spot checks against the reference reader: it refuses what we refuse.
                Assert.False(MmdbLookupOracle.Accepts(path, "81.2.69.1"), $"mmdblookup accepted a {len}-byte prefix we refused");
            }
        }
    }

    [Fact]
    public void Random_mutations_never_throw()
    {
        byte[] seed = CountryDb().Build();
        string path = Path.Combine(_dir, "mutant.mmdb");
        var rng = new Random(20240607);
        IPAddress[] probes = [IPAddress.Parse("81.2.69.1"), IPAddress.Parse("1.1.1.1"), IPAddress.Parse("2001:4860::1"), IPAddress.Parse("9.9.9.9")];
        for (int iteration = 0; iteration < 1500; iteration++)
        {
            byte[] m = (byte[])seed.Clone();
            int flips = 1 + rng.Next(4);
            for (int f = 0; f < flips; f++)
            {
                m[rng.Next(m.Length)] = (byte)rng.Next(256);
            }

            File.WriteAllBytes(path, m);
            if (GeoIpLookup.TryOpen([path], out GeoIpLookup? lookup, out string? error))
            {
                using (lookup)
                {
                    foreach (IPAddress p in probes)
                    {
                        _ = lookup!.Lookup(p);
                    }
                }
            }
            else
            {
                Assert.StartsWith(path + ":", error, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Lookup_after_dispose_throws_ObjectDisposed()
    {
        string country = Save("c.mmdb", CountryDb().Build());
        Assert.True(GeoIpLookup.TryOpen([country], out GeoIpLookup? lookup, out _));
        lookup!.Dispose();
        lookup.Dispose();
        Assert.Throws<ObjectDisposedException>(() => lookup.Lookup(IPAddress.Parse("1.1.1.1")));
    }

    private static byte[] RandomBytes(int n, int seed)
    {
        byte[] b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }
}
