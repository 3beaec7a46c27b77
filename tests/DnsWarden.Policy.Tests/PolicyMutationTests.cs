using System.Diagnostics;
using System.Text;
using DnsWarden.Policy;

namespace DnsWarden.Policy.Tests;

/// <summary>Random damage to valid policies: the loader never throws and always returns a policy or an error, never both.</summary>
public sealed class PolicyMutationTests
{
    private const int Iterations = 3000;

    private static readonly byte[] s_structural = "{}[]\",:/*\\ \n0-.etfn\u00e9"u8.ToArray();

    public static TheoryData<string> Seeds => ["full-tunnel", "proxy-stub", "split"];

    private static byte[] Seed(string name) =>
        File.ReadAllBytes(Path.Combine(PolicyLoaderTests.RepoRoot(), "docs", "policies", name + ".json"));

    private static void AssertOneOf(ReadOnlySpan<byte> input)
    {
        bool ok = PolicyLoader.TryParse(input, "m.json", out LeakPolicy? policy, out PolicyError? error);
        Assert.Equal(ok, policy is not null);
        Assert.Equal(ok, error is null);
        if (error is not null)
        {
            Assert.Equal("m.json", error.File);
            Assert.InRange(error.Line, 1, input.Count((byte)'\n') + 1);
            Assert.InRange(error.Column, 1, input.Length + 1);
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomMutations_NeverThrow(string seedName)
    {
        byte[] seed = Seed(seedName);
        var random = new Random(20261101 + seedName.Length);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < Iterations; i++)
        {
            List<byte> m = [.. seed];
            int edits = random.Next(1, 5);
            for (int e = 0; e < edits && m.Count > 0; e++)
            {
                int at = random.Next(m.Count);
                switch (random.Next(6))
                {
                    case 0:
                        m[at] = (byte)random.Next(256);
                        break;
                    case 1:
                        m[at] ^= (byte)(1 << random.Next(8));
                        break;
                    case 2:
                        m.Insert(at, s_structural[random.Next(s_structural.Length)]);
                        break;
                    case 3:
                        m.RemoveAt(at);
                        break;
                    case 4:
                        m.RemoveRange(at, m.Count - at);
                        break;
                    default:
                        int len = Math.Min(random.Next(1, 40), m.Count - at);
                        m.InsertRange(random.Next(m.Count), m.GetRange(at, len));
                        break;
                }
            }

            AssertOneOf(m.ToArray());
        }

        // Bounded time: a few thousand small files parse in well under this on any machine.
        Assert.True(sw.Elapsed < TimeSpan.FromMinutes(1), $"took {sw.Elapsed}");
    }

    [Fact]
    public void RandomBytes_NeverThrow()
    {
        var random = new Random(7);
        for (int i = 0; i < Iterations; i++)
        {
            byte[] b = new byte[random.Next(0, 200)];
            random.NextBytes(b);
            if (i % 2 == 0 && b.Length > 0)
            {
                // Half the inputs start like an object so the walk gets past the first token.
                b[0] = (byte)'{';
            }

            AssertOneOf(b);
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void EveryProperPrefix_FailsCleanly(string seedName)
    {
        byte[] seed = Seed(seedName);
        int close = Array.LastIndexOf(seed, (byte)'}');
        for (int n = 0; n < seed.Length; n++)
        {
            bool ok = PolicyLoader.TryParse(seed.AsSpan(0, n), "m.json", out LeakPolicy? policy, out PolicyError? error);
            Assert.Equal(n > close, ok);
            Assert.Equal(ok, policy is not null);
            Assert.Equal(ok, error is null);
        }
    }

    [Fact]
    public void TruncatedPolicy_PointsAtTheEnd()
    {
        byte[] seed = Seed("split");
        int n = seed.Length / 2;
        string head = Encoding.UTF8.GetString(seed, 0, n);
        Assert.False(PolicyLoader.TryParse(seed.AsSpan(0, n), "m.json", out _, out PolicyError? error));
        int line = head.Count(c => c == '\n') + 1;
        Assert.True(error!.Line <= line, error.ToString());
    }
}
