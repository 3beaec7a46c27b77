using System.Runtime.Versioning;
using System.Text.Json;

namespace DnsWarden.E2E.Jail;

/// <summary>
/// <c>dnsw jail --intercept</c> with HTTP/2: curl inside the jail (trusting the jail's CA through the injected variables,
/// no <c>-k</c>) speaks h2 to the proxy, which speaks h2 to nghttpd on the far side and judges every request on the
/// connection — <c>:authority</c> against the SNI, then method and path rules — as it judges HTTP/1.1 ones. nghttpd logs
/// every frame it receives, so what never reached it is proven from its side.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class InterceptHttp2Tests(HostProxyNetFixture fixture) : IClassFixture<HostProxyNetFixture>
{
    private const string A = HostProxyNetFixture.Allowed;
    private const string O = HostProxyNetFixture.Other;
    private static readonly string s_url = $"https://{A}:{HostProxyNetFixture.H2Port}";

    private static string? Str(JsonElement e, string key) => e.TryGetProperty(key, out JsonElement v) ? v.GetString() : null;

    private static string Line(CommandResult r, string prefix) =>
        r.StdOut.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is string l ? l[prefix.Length..] : throw new Xunit.Sdk.XunitException($"no '{prefix}' in:\n{r.Describe()}");

    [Fact]
    public async Task EveryHttp2RequestIsJudgedAndRefusedOnesNeverReachTheServer()
    {
        fixture.Check();
        int h2LogStart = fixture.H2Web.StdOut.Length;
        int webLogStart = fixture.Web.StdOut.Length;
        string requests = fixture.Net.TempPath("intercept-h2-requests.jsonl");
        const string Refused = "%header{x-dnsw-refused}";
        string script = string.Join("\n",
            $"echo ok=$(curl -s -m 20 --http2 -w ' %{{http_version}} %{{http_code}}' {s_url}/ok/h2)",
            $"echo other-path=$(curl -s -m 20 --http2 -o /dev/null -w '%{{http_version}} %{{http_code}} {Refused}' {s_url}/other/h2)",
            $"echo post=$(curl -s -m 20 --http2 -o /dev/null -w '%{{http_version}} %{{http_code}} {Refused}' -X POST -d data {s_url}/ok/h2)",
            // Fronting inside TLS: curl puts the Host it is given into :authority.
            $"echo authority=$(curl -s -m 20 --http2 -o /dev/null -w '%{{http_version}} %{{http_code}} {Refused}' -H 'Host: {O}' {s_url}/ok/h2)",
            // Two requests multiplexed on one connection (one connect between them): each judged on its own.
            $"curl -s -m 20 --http2 --parallel -o /dev/null -o /dev/null -w 'parallel=%{{http_code}} %{{num_connects}} %{{url_effective}}\\n' {s_url}/ok/1 {s_url}/other/2",
            // An HTTP/1.1-only server (the far side's web.py on 443): the command is offered http/1.1 and still works.
            $"echo h1-server=$(curl -s -m 20 --http2 -w ' %{{http_version}} %{{http_code}}' https://{A}/ok/h1)",
            // A header block that does not decode (index 0, RFC 7541 §6.1): GOAWAY with COMPRESSION_ERROR (9).
            $"echo hpack=$(python3 {fixture.Script("h2raw.py")} {A} {HostProxyNetFixture.H2Port})",
            "exit 0");
        CommandResult r = await fixture.JailAsync(["--intercept", "--upstream-ca", fixture.CaFile, "--allow", $"GET {A}/ok/", "--allow", $"GET {O}/ok/", "--request-log", requests, "--privacy", "full"], script);

        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.Equal("h2 page h2 2 200", Line(r, "ok="));
        Assert.Equal($"2 403 dnsw jail: denied: no rule allows GET {A}/other/h2 (rules for {A}: GET {A}/ok/)", Line(r, "other-path="));
        Assert.Equal($"2 403 dnsw jail: denied: no rule allows POST {A}/ok/h2 (rules for {A}: GET {A}/ok/)", Line(r, "post="));
        Assert.Equal($"2 403 dnsw jail: denied: host {O} differs from SNI {A}", Line(r, "authority="));

        string[] parallel = [.. r.StdOut.Split('\n').Where(l => l.StartsWith("parallel=", StringComparison.Ordinal)).Select(l => l["parallel=".Length..]).Order(StringComparer.Ordinal)];
        Assert.True(parallel.Length == 2, r.Describe());
        Assert.Matches($@"^200 \d {s_url}/ok/1$", parallel[0]);
        Assert.Matches($@"^403 \d {s_url}/other/2$", parallel[1]);

        // One transfer connected (IPv6 and IPv4 attempts count), the other made no connect of its own: it was multiplexed.
        Assert.True(parallel.Count(p => p.Split(' ')[1] == "0") == 1, "the two requests were not on one connection:\n" + r.Describe());

        Assert.Equal($"page for {A} 1.1 200", Line(r, "h1-server="));
        Assert.Equal("goaway 9", Line(r, "hpack="));
        Assert.True(r.StdErr.Contains("HTTP/2 CompressionError: header block of stream 1: IndexZero at byte 0 of 1", StringComparison.Ordinal), r.Describe());

        // The request log: HTTP/2 requests are entries like HTTP/1.1 ones (method, host, path, verdict, rule).
        JsonElement[] log = [.. File.ReadAllLines(requests).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        Assert.Contains(log, e => Str(e, "protocol") == "https" && Str(e, "verdict") == "allowed"
            && Str(e, "method") == "GET" && Str(e, "host") == A && Str(e, "path") == "/ok/h2" && Str(e, "rule") == $"GET {A}/ok/");
        Assert.Contains(log, e => Str(e, "protocol") == "https" && Str(e, "verdict") == "allowed" && Str(e, "path") == "/ok/1");
        Assert.Contains(log, e => Str(e, "protocol") == "https" && Str(e, "verdict") == "denied"
            && Str(e, "method") == "GET" && Str(e, "host") == A && Str(e, "path") == "/other/2");
        Assert.Contains(log, e => Str(e, "protocol") == "https" && Str(e, "verdict") == "denied" && Str(e, "method") == "POST");
        Assert.Contains(log, e => Str(e, "protocol") == "https" && Str(e, "verdict") == "denied" && Str(e, "host") == O);

        // The far side: allowed requests arrived as HTTP/2; refused ones never did (nor their bodies, nor the other name).
        string h2 = fixture.H2Web.StdOut[h2LogStart..];
        Assert.Contains(":path: /ok/h2", h2, StringComparison.Ordinal);
        Assert.Contains(":path: /ok/1", h2, StringComparison.Ordinal);
        Assert.DoesNotContain("/other", h2, StringComparison.Ordinal);
        Assert.DoesNotContain(":method: POST", h2, StringComparison.Ordinal);
        Assert.DoesNotContain(O, h2, StringComparison.Ordinal);
        Assert.DoesNotContain("ENABLE_PUSH(0x02):1", h2, StringComparison.Ordinal);
        Assert.Contains($"REQ GET /ok/h1 HTTP/1.1 HOST {A}", fixture.Web.StdOut[webLogStart..], StringComparison.Ordinal);
    }
}
