using DnsWarden.Indicators;
using System.Text;
using DnsWarden.Leak.Events;
using DnsWarden.Leak.Rules;
using DnsWarden.Policy;

namespace DnsWarden.Leak.Tests.Exfiltration;

public sealed class ExfiltrationDetectorTests
{
    private const long Second = 1_000_000_000;

    // RFC 1035 §3.2.2, RFC 3596, RFC 9460: the query types the scenarios use.
    private const ushort A = 1;
    private const ushort Cname = 5;
    private const ushort Null = 10;
    private const ushort Mx = 15;
    private const ushort Txt = 16;
    private const ushort Aaaa = 28;
    private const ushort Https = 65;

    private static readonly ExfiltrationPolicy s_policy = ExfiltrationPolicy.Default;

    private static ExfiltrationDetector NewDetector() => new(s_policy, BaseDomains.Fallback);

    private sealed record Query(long TimeNs, string Name, ushort Type);

    private static List<ExfiltrationFigures> Run(ExfiltrationDetector d, IEnumerable<Query> queries, ushort? rcode = null)
    {
        var fired = new List<ExfiltrationFigures>();
        foreach (Query q in queries)
        {
            if (d.AddQuery(q.TimeNs, q.Name, q.Type) is { } f)
            {
                fired.Add(f);
            }

            if (rcode is { } rc)
            {
                d.AddResponse(q.TimeNs + (Second / 50), q.Name, rc);
            }
        }

        return fired;
    }

    // ---- Benign traffic: must not fire ----

    [Fact]
    public void Browsing_several_sites_does_not_fire()
    {
        string[] sites = ["example.com", "example.org", "news.example.net", "bbc.co.uk", "shop.example.de", "user.github.io"];
        string[] hosts = ["www", "cdn", "api", "static", "img", "fonts", "assets", "m"];
        var rng = new Random(1);
        var queries = new List<Query>();
        long t = 0;
        for (int round = 0; round < 4; round++)
        {
            foreach (string site in sites)
            {
                foreach (string host in hosts)
                {
                    t += rng.Next(5, 200) * (Second / 1000);
                    string name = host == "www" && round == 0 ? site : $"{host}.{site}";
                    queries.Add(new Query(t, name, A));
                    queries.Add(new Query(t, name, Aaaa));
                    if (rng.Next(4) == 0)
                    {
                        queries.Add(new Query(t, name, Https));
                    }
                }
            }
        }

        ExfiltrationDetector d = NewDetector();
        Assert.Empty(Run(d, queries, rcode: 0));
        foreach (string site in sites)
        {
            string b = BaseDomains.Fallback.GetBaseDomain("www." + site);
            Assert.True(d.Peek(b)!.Score < s_policy.ScoreThreshold, $"{b}: {d.Peek(b)}");
        }
    }

    [Fact]
    public void Many_different_base_domains_do_not_fire()
    {
        var rng = new Random(2);
        var queries = new List<Query>();
        for (int i = 0; i < 3000; i++)
        {
            string site = $"site{rng.Next(800)}-{i % 7}.com";
            queries.Add(new Query(i * (Second / 50), $"{(i % 3 == 0 ? "www" : "cdn")}.{site}", A));
        }

        ExfiltrationDetector d = NewDetector();
        Assert.Empty(Run(d, queries, rcode: 0));
        Assert.True(d.TrackedDomains > 700, $"{d.TrackedDomains} domains");
    }

    [Fact]
    public void One_name_asked_over_and_over_does_not_fire()
    {
        var queries = Enumerable.Range(0, 600).Select(i => new Query(i * (Second / 10), "time.example.com", A));
        ExfiltrationDetector d = NewDetector();
        Assert.Empty(Run(d, queries, rcode: 0));
        ExfiltrationFigures f = d.Peek("example.com")!;
        Assert.Equal(1, f.UniqueSubdomains);
        Assert.True(f.Queries >= 560, f.ToString());
    }

    [Fact]
    public void Cdn_with_short_hashed_names_asked_repeatedly_does_not_fire()
    {
        // Thirty content hashes, 16 hex digits each, each fetched four times in the minute (A and AAAA).
        var rng = new Random(3);
        string[] names = Enumerable.Range(0, 30).Select(_ => $"img-{Hex(rng, 8)}.cdn-example.com").ToArray();
        var queries = new List<Query>();
        long t = 0;
        for (int round = 0; round < 4; round++)
        {
            foreach (string n in names)
            {
                t += Second / 10;
                queries.Add(new Query(t, n, A));
                queries.Add(new Query(t, n, Aaaa));
            }
        }

        ExfiltrationDetector d = NewDetector();
        Assert.Empty(Run(d, queries, rcode: 0));
        ExfiltrationFigures f = d.Peek("cdn-example.com")!;
        Assert.Equal(30, f.UniqueSubdomains);
        Assert.True(f.Score < s_policy.ScoreThreshold, f.ToString());
    }

    [Fact]
    public void Search_list_noise_with_nxdomain_does_not_fire()
    {
        // A resolver search domain appended to everything the host looks up: many names, all NXDOMAIN, low entropy.
        string[] apps = ["www.google.com", "outlook.office365.com", "wpad", "isatap", "api.github.com", "login.live.com",
            "update.example.org", "time.windows.com", "ocsp.digicert.com", "clients.google.com", "s3.amazonaws.com", "ntp"];
        var queries = new List<Query>();
        long t = 0;
        for (int round = 0; round < 3; round++)
        {
            foreach (string app in apps)
            {
                t += Second / 4;
                queries.Add(new Query(t, $"{app}.corp.example.com", A));
                queries.Add(new Query(t, $"{app}.corp.example.com", Aaaa));
            }
        }

        ExfiltrationDetector d = NewDetector();
        Assert.Empty(Run(d, queries, rcode: 3));
        ExfiltrationFigures f = d.Peek("example.com")!;
        Assert.Equal(1.0, f.NxdomainShare);
        Assert.True(f.Score < s_policy.ScoreThreshold, f.ToString());
    }

    // ---- Tunnels: must fire ----

    [Fact]
    public void Iodine_like_base32_null_queries_fire()
    {
        // iodine: a command letter, a user id and base32-ish data split into long labels under its tunnel zone; NULL
        // records downstream, TXT as a fallback.
        var rng = new Random(4);
        var queries = new List<Query>();
        for (int i = 0; i < 50; i++)
        {
            string data = Base32(rng, 110 + rng.Next(60));
            queries.Add(new Query(i * (Second / 5), $"p{Chunk(data, 63)}.t.tunnel-example.com", i % 5 == 0 ? Txt : Null));
        }

        ExfiltrationDetector d = NewDetector();
        List<ExfiltrationFigures> fired = Run(d, queries, rcode: 0);
        ExfiltrationFigures f = Assert.Single(fired);
        Assert.Equal("tunnel-example.com", f.BaseDomain);
        Assert.True(f.Score >= s_policy.ScoreThreshold);
        Assert.True(f.MeanEntropy >= s_policy.MinEntropy, f.ToString());
        Assert.True(f.MaxLabelLength >= s_policy.LongLabel, f.ToString());
        Assert.True(f.MaxNameLength >= s_policy.LongName, f.ToString());
        Assert.Equal(1.0, f.TxtNullShare);
        Assert.Equal(s_policy.MinQueries, f.Queries);
        Assert.Equal(60, f.WindowSeconds);
    }

    [Fact]
    public void Dnscat2_like_hex_queries_fire()
    {
        // dnscat2: hex-encoded packets in dotted labels, TXT, CNAME and MX in turn.
        var rng = new Random(5);
        ushort[] types = [Txt, Cname, Mx];
        var queries = new List<Query>();
        for (int i = 0; i < 40; i++)
        {
            string hex = Hex(rng, 30 + rng.Next(40));
            queries.Add(new Query(i * (Second / 2), $"dnscat.{Chunk(hex, 60)}.c2-example.net", types[i % 3]));
        }

        ExfiltrationDetector d = NewDetector();
        ExfiltrationFigures f = Assert.Single(Run(d, queries, rcode: 0));
        Assert.Equal("c2-example.net", f.BaseDomain);
        Assert.True(f.MeanEntropy >= s_policy.MinEntropy, f.ToString());
        Assert.True(f.TxtNullShare < s_policy.TxtNullShare, f.ToString());
    }

    [Fact]
    public void Base64url_chunks_in_A_queries_fire()
    {
        var rng = new Random(6);
        var queries = new List<Query>();
        for (int seq = 0; seq < 30; seq++)
        {
            byte[] chunk = new byte[60];
            rng.NextBytes(chunk);
            string b64 = Convert.ToBase64String(chunk).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            queries.Add(new Query(seq * (Second / 3), $"{Chunk(b64, 50)}.{seq}.exfil-example.org", A));
        }

        ExfiltrationDetector d = NewDetector();
        ExfiltrationFigures f = Assert.Single(Run(d, queries, rcode: 0));
        Assert.Equal("exfil-example.org", f.BaseDomain);
        Assert.Equal(0, f.TxtNullShare);
    }

    [Fact]
    public void Slow_drip_every_two_seconds_fires()
    {
        var rng = new Random(7);
        var queries = new List<Query>();
        for (long t = 0; t < 60 * Second; t += 2 * Second)
        {
            queries.Add(new Query(t, $"{Base32(rng, 52)}.drip-example.com", A));
        }

        ExfiltrationDetector d = NewDetector();
        ExfiltrationFigures f = Assert.Single(Run(d, queries, rcode: 0));
        Assert.Equal("drip-example.com", f.BaseDomain);
        Assert.Equal(s_policy.MinQueries, f.Queries);
    }

    [Fact]
    public void NXDOMAIN_answers_raise_the_score()
    {
        // Unique high-entropy names, but short labels and names: 50 points, under the threshold until the answers
        // turn out to be NXDOMAIN (+10).
        var rng = new Random(8);
        Query[] queries = Enumerable.Range(0, 20).Select(i => new Query(i * Second, $"{Base32(rng, 24)}.nx-example.com", A)).ToArray();
        Assert.Empty(Run(NewDetector(), queries, rcode: 0));
        ExfiltrationFigures f = Assert.Single(Run(NewDetector(), queries, rcode: 3));
        Assert.Equal(1.0, f.NxdomainShare);
        Assert.Equal(60, f.Score);
    }

    [Fact]
    public void Fires_at_most_once_per_window_and_again_after_a_full_window()
    {
        var rng = new Random(9);
        var queries = new List<Query>();
        for (int i = 0; i < 180; i++)
        {
            queries.Add(new Query(i * Second, $"{Base32(rng, 60)}.{Base32(rng, 60)}.long-tunnel.example.com", Txt));
        }

        List<ExfiltrationFigures> fired = [];
        ExfiltrationDetector d = NewDetector();
        var times = new List<long>();
        foreach (Query q in queries)
        {
            if (d.AddQuery(q.TimeNs, q.Name, q.Type) is { } f)
            {
                fired.Add(f);
                times.Add(q.TimeNs);
            }
        }

        Assert.Equal(3, fired.Count);
        Assert.Equal(9 * Second, times[0]);
        for (int i = 1; i < times.Count; i++)
        {
            Assert.True(times[i] - times[i - 1] >= 60 * Second);
        }
    }

    [Fact]
    public void Out_of_order_timestamps_are_taken_as_now()
    {
        var rng = new Random(10);
        ExfiltrationDetector d = NewDetector();
        for (int i = 0; i < 30; i++)
        {
            long t = (i % 2 == 0 ? 100 : 50) * Second;
            _ = d.AddQuery(t, $"{Base32(rng, 50)}.ooo-example.com", A);
        }

        Assert.Equal(30, d.Peek("ooo-example.com")!.Queries);
    }

    // ---- Score formula ----

    [Fact]
    public void No_single_weak_signal_reaches_the_threshold()
    {
        ExfiltrationPolicy p = s_policy;
        int q = 100;
        Assert.Equal(0, ExfiltrationDetector.Score(p, p.MinQueries - 1, 1000, 5, 63, 253, 1, 1));
        Assert.Equal(25, ExfiltrationDetector.Score(p, q, p.MinUniqueSubdomains, 0, 0, 0, 0, 0));
        Assert.Equal(25, ExfiltrationDetector.Score(p, q, 1, p.MinEntropy, 0, 0, 0, 0));
        Assert.Equal(15, ExfiltrationDetector.Score(p, q, 1, 0, p.LongLabel, 0, 0, 0));
        Assert.Equal(10, ExfiltrationDetector.Score(p, q, 1, 0, 0, p.LongName, 0, 0));
        Assert.Equal(15, ExfiltrationDetector.Score(p, q, 1, 0, 0, 0, p.TxtNullShare, 0));
        Assert.Equal(10, ExfiltrationDetector.Score(p, q, 1, 0, 0, 0, 0, p.NxdomainShare));

        // Many names of high entropy: 50, not yet; overwhelmingly many: 65.
        Assert.Equal(50, ExfiltrationDetector.Score(p, q, p.MinUniqueSubdomains, p.MinEntropy, 0, 0, 0, 0));
        Assert.Equal(65, ExfiltrationDetector.Score(p, 1000, 5 * p.MinUniqueSubdomains, p.MinEntropy, 0, 0, 0, 0));

        // Many low-entropy names with every other signal: still short of a tunnel's random data.
        Assert.Equal(75, ExfiltrationDetector.Score(p, q, 1000, 0, 63, 253, 1, 1));
        Assert.Equal(100, ExfiltrationDetector.Score(p, q, 1000, 5, 63, 253, 1, 1));
    }

    [Theory]
    [InlineData("", 0)]
    [InlineData("aaaa", 0)]
    [InlineData("ab", 1)]
    [InlineData("abcd", 2)]
    [InlineData("AbCd", 2)]
    [InlineData("a.b-c_d", 2)]
    [InlineData("0123456789abcdef", 4)]
    public void Entropy_counts_letters_and_digits_case_folded(string text, double bits) =>
        Assert.Equal(bits, ExfiltrationDetector.Entropy(text), 6);

    // ---- Bounds ----

    [Fact]
    public void Domains_are_bounded_and_the_least_evidence_goes()
    {
        ExfiltrationDetector d = NewDetector();
        _ = d.AddQuery(0, "www.first-example.com", A);
        for (int i = 0; i < ExfiltrationDetector.MaxDomains - 1; i++)
        {
            _ = d.AddQuery(Second, $"www.site{i}.com", A);
        }

        // Seen again: two queries outrank every single sighting.
        _ = d.AddQuery(2 * Second, "www.first-example.com", A);
        Assert.Equal(ExfiltrationDetector.MaxDomains, d.TrackedDomains);
        _ = d.AddQuery(3 * Second, "www.newcomer.com", A);
        Assert.Equal(ExfiltrationDetector.MaxDomains, d.TrackedDomains);
        Assert.NotNull(d.Peek("first-example.com"));
        Assert.NotNull(d.Peek("newcomer.com"));
        Assert.Null(d.Peek("site0.com"));
        Assert.NotNull(d.Peek("site1.com"));

        for (int i = 0; i < 20_000; i++)
        {
            _ = d.AddQuery(4 * Second, $"x.more{i}.com", A);
        }

        Assert.Equal(ExfiltrationDetector.MaxDomains, d.TrackedDomains);
    }

    [Fact]
    public void Subdomains_are_bounded_and_counted_approximately_beyond()
    {
        ExfiltrationDetector d = NewDetector();
        var rng = new Random(11);
        for (int i = 0; i < 5000; i++)
        {
            _ = d.AddQuery(i * (Second / 100), $"{Hex(rng, 12)}.big-example.com", A);
        }

        Assert.Equal(ExfiltrationDetector.MaxSubdomainsPerDomain, d.RememberedSubdomains("big-example.com"));
        ExfiltrationFigures f = d.Peek("big-example.com")!;
        Assert.Equal(5000, f.Queries);
        Assert.InRange(f.UniqueSubdomains, 4900, 5000);

        // A full window later the old names have left the count.
        _ = d.AddQuery(200 * Second, "www.big-example.com", A);
        f = d.Peek("big-example.com")!;
        Assert.Equal(1, f.UniqueSubdomains);
        Assert.Equal(1, f.Queries);
    }

    [Fact]
    public void Answers_for_untracked_domains_are_ignored()
    {
        ExfiltrationDetector d = NewDetector();
        d.AddResponse(0, "www.never-asked.com", 3);
        Assert.Equal(0, d.TrackedDomains);
        Assert.Null(d.AddQuery(0, ".", A));
        Assert.Null(d.AddQuery(0, "", A));
        Assert.Equal(0, d.TrackedDomains);
    }

    [Fact]
    public void A_query_allocates_little_beyond_its_strings()
    {
        ExfiltrationDetector d = NewDetector();
        var rng = new Random(12);
        string[] names = Enumerable.Range(0, 20_000).Select(i => $"{Hex(rng, 20)}.d{i % 300}.example.com").ToArray();
        for (int i = 0; i < names.Length; i++)
        {
            _ = d.AddQuery(i * (Second / 1000), names[i], A);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < names.Length; i++)
        {
            _ = d.AddQuery((names.Length + i) * (Second / 1000), names[i], A);
        }

        long perQuery = (GC.GetAllocatedBytesForCurrentThread() - before) / names.Length;

        // The base-domain string (about 40 bytes) and an occasional event; the window and the set are reused.
        Assert.True(perQuery < 128, $"{perQuery} bytes per query");
    }

    private static string Chunk(string s, int label)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < s.Length; i += label)
        {
            if (i > 0)
            {
                sb.Append('.');
            }

            sb.Append(s, i, Math.Min(label, s.Length - i));
        }

        return sb.ToString();
    }

    private static string Base32(Random rng, int length)
    {
        const string Alphabet = "abcdefghijklmnopqrstuvwxyz012345";
        return string.Create(length, rng, (span, r) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = Alphabet[r.Next(Alphabet.Length)];
            }
        });
    }

    private static string Hex(Random rng, int bytes)
    {
        byte[] b = new byte[bytes];
        rng.NextBytes(b);
        return Convert.ToHexStringLower(b);
    }
}
