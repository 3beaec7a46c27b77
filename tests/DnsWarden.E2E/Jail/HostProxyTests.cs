using System.Runtime.Versioning;
using System.Text.Json;

namespace DnsWarden.E2E.Jail;

/// <summary>
/// <c>dnsw jail --allow NAME</c>: every TCP connection goes to the host proxy, which decides by SNI or HTTP host. One
/// web server address serves the allowed name and another one; the far side (the server's own log of every SNI,
/// request line and Host, and a capture) proves what reached it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class HostProxyTests(HostProxyNetFixture fixture) : IClassFixture<HostProxyNetFixture>
{
    private const string A = HostProxyNetFixture.Allowed;
    private const string O = HostProxyNetFixture.Other;

    private static void Has(CommandResult r, string expected) => Assert.True(r.StdOut.Contains(expected, StringComparison.Ordinal), $"no '{expected}' in:\n{r.Describe()}");

    private static void HasErr(CommandResult r, string expected) => Assert.True(r.StdErr.Contains(expected, StringComparison.Ordinal), $"no '{expected}' in:\n{r.Describe()}");

    /// <summary>Frames from the jail's host the capture holds that match <paramref name="filter"/>.</summary>
    private async Task<string[]> SeenAsync(string capture, string filter)
    {
        CommandResult r = await ProcessRunner.RunAsync("tshark", ["-r", capture, "-Y", $"(ip.src == {HostProxyNetFixture.HostV4} or ipv6.src == {HostProxyNetFixture.HostV6}) and ({filter})", "-T", "fields", "-e", "frame.number"]);
        r.EnsureSuccess();
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public async Task TheAllowedNameWorksByNameAndTheOtherNameOnTheSameAddressNeverReachesIt()
    {
        fixture.Check();
        string capture = fixture.Net.TempPath("hp-byname.pcapng");
        DumpcapCapture dump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], capture);
        int webLogStart = fixture.Web.StdOut.Length;
        string ca = fixture.CaFile;
        string script = string.Join("\n",
            $"echo http4=$(curl -s -4 -m 20 http://{A}/)",
            $"echo http6=$(curl -s -6 -m 20 http://{A}/)",
            $"echo https4=$(curl -s -4 -m 20 --cacert {ca} https://{A}/)",
            $"echo https6=$(curl -s -6 -m 20 --cacert {ca} https://{A}/)",
            // The address dialled does not matter: the sinkhole's own address reaches the allowed name through the proxy.
            $"echo sinkholed=$(curl -s -m 20 --cacert {ca} --resolve {A}:443:6.6.6.6 https://{A}/)",
            // The other name on the same address: HTTPS (SNI), HTTP with Host changed, and on a kept-alive connection.
            $"curl -s -m 20 --cacert {ca} --resolve {O}:443:{HostProxyNetFixture.WebV4} https://{O}/ >/dev/null; echo other-https=$?",
            $"curl -s -6 -m 20 --cacert {ca} --resolve {O}:443:[{HostProxyNetFixture.WebV6}] https://{O}/ >/dev/null; echo other-https6=$?",
            $"echo other-http=$(curl -s -m 20 -o /dev/null -w '%{{http_code}}' -H 'Host: {O}' http://{A}/)",
            $"echo other-http-body=$(curl -s -m 20 -H 'Host: {O}' http://{A}/)",
            fixture.Client("keepalive", A, 80, A, O),
            fixture.Client("chunked", A, 80, A, "smuggled.hp.test"),
            "exit 0");
        string requests = fixture.Net.TempPath("hp-requests.jsonl");
        CommandResult r = await fixture.JailAsync(["--allow", A, "--request-log", requests, "--privacy", "full"], script);
        await dump.StopAsync();

        Assert.True(r.ExitCode == 0, r.Describe());
        Has(r, $"http4=page for {A}");
        Has(r, $"http6=page for {A}");
        Has(r, $"https4=page for {A}");
        Has(r, $"https6=page for {A}");
        Has(r, $"sinkholed=page for {A}");

        // Refused at once: a TLS alert (curl 35), not its timeout (28).
        Has(r, "other-https=35");
        Has(r, "other-https6=35");
        Has(r, "other-http=403");
        Has(r, $"other-http-body=dnsw jail: denied: no rule allows {O}");
        Has(r, $"keepalive=HTTP/1.1 200 OK | page for {A} || HTTP/1.1 403 Forbidden | dnsw jail: denied: no rule allows {O}");
        // The request line inside a chunked body is body, not a request (the server takes it as such); the request
        // after the body is found, checked and passes.
        Has(r, $"chunked=HTTP/1.1 200 OK | posted 42 to {A} || HTTP/1.1 200 OK | page for {A}");
        Assert.Matches($@"host proxy: allowed \d+, refused \d+; top refused: {O.Replace(".", "\\.", StringComparison.Ordinal)} ×[4-9]", r.StdErr);

        // The request log: every decision, allowed and denied, in the project's vocabulary.
        JsonElement[] log = [.. File.ReadAllLines(requests).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        Assert.All(log, e => Assert.Equal("request", e.GetProperty("event").GetString()));
        JsonElement tls = Assert.Single(log, e => e.TryGetProperty("sni", out JsonElement sni) && sni.GetString() == A && e.GetProperty("dst").GetString() == HostProxyNetFixture.WebV4);
        Assert.Equal("allowed", tls.GetProperty("verdict").GetString());
        Assert.Equal(A, tls.GetProperty("rule").GetString());
        Assert.Equal(443, tls.GetProperty("dport").GetInt32());
        Assert.True(tls.GetProperty("bytes_in").GetInt64() > 0);
        JsonElement denied = Assert.Single(log, e => e.TryGetProperty("sni", out JsonElement sni) && sni.GetString() == O && e.GetProperty("dst").GetString() == HostProxyNetFixture.WebV4);
        Assert.Equal("denied", denied.GetProperty("verdict").GetString());
        Assert.Equal($"no rule allows {O}", denied.GetProperty("reason").GetString());
        Assert.Contains(log, e => e.TryGetProperty("host", out JsonElement h) && h.GetString() == O && e.GetProperty("path").GetString() == "/two" && e.GetProperty("verdict").GetString() == "denied");
        Assert.Contains(log, e => e.TryGetProperty("host", out JsonElement h) && h.GetString() == A && e.GetProperty("path").GetString() == "/one" && e.GetProperty("method").GetString() == "GET");

        // The far side: the allowed name arrived by SNI and Host; the other name never, in its log or on the wire.
        string web = fixture.Web.StdOut[webLogStart..];
        Assert.Contains($"SNI {A}", web, StringComparison.Ordinal);
        Assert.Contains($"REQ GET / HTTP/1.1 HOST {A}", web, StringComparison.Ordinal);
        Assert.DoesNotContain(O, web, StringComparison.Ordinal);
        Assert.NotEmpty(await SeenAsync(capture, $"tls.handshake.extensions_server_name == \"{A}\""));
        Assert.NotEmpty(await SeenAsync(capture, $"http.host == \"{A}\""));
        Assert.Empty(await SeenAsync(capture, $"tls.handshake.extensions_server_name == \"{O}\" or http.host == \"{O}\" or frame contains \"{O}\""));
    }

    [Fact]
    public async Task IpLiteralsConnectNoSniAndDeniedNamesAreRefusedAtOnce()
    {
        fixture.Check();
        string capture = fixture.Net.TempPath("hp-refused.pcapng");
        DumpcapCapture dump = await fixture.Net.StartCaptureAsync(fixture.Inet, [fixture.InetInterface], capture);
        int webLogStart = fixture.Web.StdOut.Length;
        string ca = fixture.CaFile;
        string script = string.Join("\n",
            $"echo literal-http=$(curl -s -m 20 -o /dev/null -w '%{{http_code}}' http://{HostProxyNetFixture.WebV4}/)",
            $"curl -s -m 20 -k https://{HostProxyNetFixture.WebV4}/ >/dev/null; echo literal-https=$?",
            $"curl -s -g -m 20 -k https://[{HostProxyNetFixture.WebV6}]/ >/dev/null; echo literal-https6=$?",
            $"curl -s -m 20 --cacert {ca} https://denied.hp.test/ >/dev/null; echo denied-name=$?",
            fixture.Client("raw", A, 80, $"CONNECT {O}:443 HTTP/1.1\\r\\nHost: {O}:443\\r\\n\\r\\n"),
            fixture.Client("raw", A, 80, $"CONNECT {A}:443 HTTP/1.1\\r\\nHost: {A}:443\\r\\n\\r\\n"),
            fixture.Client("raw", A, 80, $"GET http://{O}/ HTTP/1.1\\r\\nHost: {A}\\r\\n\\r\\n"),
            fixture.Client("raw", A, 80, $"GET / HTTP/1.1\\nHost: {A}\\n\\n"),
            fixture.Client("nosni", A, 443, ca),
            fixture.Client("ech", A, 443, O),
            "exit 0");
        CommandResult r = await fixture.JailAsync(["--allow", A], script);
        await dump.StopAsync();

        Assert.True(r.ExitCode == 0, r.Describe());
        Has(r, "literal-http=403");
        Has(r, "literal-https=35");
        Has(r, "literal-https6=35");
        Has(r, "denied-name=35");
        string[] raw = [.. r.StdOut.Split('\n').Where(l => l.StartsWith("raw=", StringComparison.Ordinal))];
        Assert.Equal(4, raw.Length);
        Assert.All(raw, l => Assert.Equal("raw=HTTP/1.1 403 Forbidden", l));
        Has(r, "nosni=error SSLError");
        HasErr(r, "an IP literal");
        HasErr(r, "CONNECT needs a rule");
        HasErr(r, "malformed request (HostMismatch)");
        HasErr(r, "malformed request (BadLineEnding)");
        HasErr(r, ": no SNI");
        // An encrypted ClientHello is judged by its outer name: another host's is refused with the proxy's alert (21).
        Has(r, "ech=sent ");
        Assert.Matches("ech=sent \\d+ bytes in 1 records, got record type 21", r.StdOut);
        HasErr(r, $"no rule allows {O} (the outer name of an encrypted ClientHello)");
        HasErr(r, "no rule allows denied.hp.test");
        // The denied name was sinkholed by the stub, never asked upstream (dnsmasq logs every query it gets).
        Assert.DoesNotContain("denied.hp.test", fixture.Dnsmasq.StdErr, StringComparison.Ordinal);
        Assert.Contains(A, fixture.Dnsmasq.StdErr, StringComparison.Ordinal);

        // Nothing of it left the jail's host: no connection reached the web server at all.
        Assert.Empty(await SeenAsync(capture, "tcp"));
        Assert.DoesNotContain("ACCEPT", fixture.Web.StdOut[webLogStart..], StringComparison.Ordinal);
    }

    [Fact]
    public async Task GarbageADribbledClientHelloAndASilentClientAreBounded()
    {
        fixture.Check();
        string ca = fixture.CaFile;
        string script = string.Join("\n",
            fixture.Client("garbage", A, 443),
            fixture.Client("dribble", A, 443, A, ca),
            fixture.Client("bighello", A, 443, A),
            fixture.Client("silent", A, 443),
            $"echo after=$(curl -s -m 20 --cacert {ca} https://{A}/)",
            "exit 0");
        string requests = fixture.Net.TempPath("hp-bad.log");
        CommandResult r = await fixture.JailAsync(["--allow", A, "--request-log", requests, "--request-log-format", "httpjail"], script);

        Assert.True(r.ExitCode == 0, r.Describe());
        Has(r, "garbage=error ConnectionResetError");
        HasErr(r, "proxy refused other - to");
        HasErr(r, "neither TLS nor HTTP");
        // One byte per write is reassembled, decided and forwarded: the server's handshake record (22) comes back.
        Assert.Matches(@"dribble=sent \d+ bytes one at a time, got record type 22", r.StdOut);
        Assert.Matches(@"silent=closed after 1\d s", r.StdOut);
        // A 17 KB ClientHello over three records reaches the server whole (it answers with a TLS record: 21 alert or 22 handshake).
        Assert.Matches(@"bighello=sent 1\d{4} bytes in 3 records, got record type 2[12]", r.StdOut);
        Assert.False(r.StdErr.Contains("proxy refused tls", StringComparison.Ordinal), r.Describe());
        HasErr(r, "no decision within 10 s (0 bytes)");
        // The proxy is still there for the next client.
        Has(r, $"after=page for {A}");
        // httpjail's format; the default privacy (redacted) keeps base domains and no paths.
        string[] lines = File.ReadAllLines(requests);
        Assert.Contains(lines, l => l.EndsWith($" - OTHER tcp://-:443/", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.EndsWith(" + TLS https://*.hp.test/", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains(" - TLS ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUpgradeToAnAllowedHostBecomesAPlainStream()
    {
        fixture.Check();
        int webLogStart = fixture.Web.StdOut.Length;
        CommandResult r = await fixture.JailAsync(["--allow", A], fixture.Client("websocket", A, 80, A) + "\nexit 0");

        Assert.True(r.ExitCode == 0, r.Describe());
        // After the 101 the bytes are no longer judged as HTTP: the server echoes them.
        Has(r, "websocket=HTTP/1.1 101 Switching Protocols | echo:GET / HTTP/1.1 Host: other");
        Assert.Contains("UPGRADED", fixture.Web.StdOut[webLogStart..], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AConnectRuleOpensATunnelWhoseBytesAreNoLongerJudged_WhichIsWhyItNeedsARuleOfItsOwn()
    {
        fixture.Check();
        int webLogStart = fixture.Web.StdOut.Length;
        CommandResult r = await fixture.JailAsync(["--allow", A, "--allow", "CONNECT " + A], fixture.Client("tunnel", A, 80, A, O) + "\nexit 0");

        Assert.True(r.ExitCode == 0, r.Describe());
        // The server (an HTTP server answering CONNECT as a request) accepts the tunnel with a 2xx; after it, a request
        // for a host no rule allows passes untouched: what a CONNECT rule admits is everything inside it.
        Has(r, $"tunnel=HTTP/1.1 200 OK | page for {A}:443 || HTTP/1.1 200 OK | page for {O}");
        string web = fixture.Web.StdOut[webLogStart..];
        Assert.Contains($"REQ CONNECT {A}:443 HTTP/1.1 HOST {A}:443", web, StringComparison.Ordinal);
        Assert.Contains($"REQ GET /in-tunnel HTTP/1.1 HOST {O}", web, StringComparison.Ordinal);
        HasErr(r, "host proxy: allowed 1, refused 0");
    }

    [Fact]
    public async Task ARawTcpRuleOpensOnlyThatPortOnOnlyThatNamesAddresses()
    {
        fixture.Check();
        int raw2222 = fixture.Raw2222.StdOut.Length;
        int raw2223 = fixture.Raw2223.StdOut.Length;
        string g = HostProxyNetFixture.Git;
        string script = string.Join("\n",
            $"echo git=$(timeout 20 bash -c 'exec 3<>/dev/tcp/{g}/2222; echo hello >&3; head -1 <&3')",
            // Another port of the same name, and the same port on another (allowed) name's address, go to the proxy.
            $"echo git-2223=$(timeout 20 bash -c 'exec 3<>/dev/tcp/{g}/2223; echo hello >&3; head -1 <&3' 2>&1 | head -1)",
            $"echo web-2222=$(timeout 20 bash -c 'exec 3<>/dev/tcp/{A}/2222; echo hello >&3; head -1 <&3' 2>&1 | head -1)",
            "exit 0");
        CommandResult r = await fixture.JailAsync(["--allow", A, "--allow", $"tcp:{g}:2222"], script);

        Assert.True(r.ExitCode == 0, r.Describe());
        Has(r, "git=HTTP/1.0 200 OK");
        Assert.Single(r.StdOut.Split('\n'), l => l.Contains("200 OK", StringComparison.Ordinal));
        HasErr(r, "neither TLS nor HTTP");

        string reached = fixture.Raw2222.StdOut[raw2222..];
        Assert.Matches($@"(?m)^accepted ({HostProxyNetFixture.GitV4.Replace(".", "\\.", StringComparison.Ordinal)}|{HostProxyNetFixture.GitV6}) from", reached);
        Assert.DoesNotContain($"accepted {HostProxyNetFixture.WebV4} ", reached, StringComparison.Ordinal);
        Assert.DoesNotContain($"accepted {HostProxyNetFixture.WebV6} ", reached, StringComparison.Ordinal);
        Assert.Empty(fixture.Raw2223.StdOut[raw2223..]);
    }

    [Fact]
    public async Task WithoutHostRulesARefusedConnectionFailsAtOnceAndIsStillLogged()
    {
        fixture.Check();
        string script = string.Join("\n",
            $"curl -s -m 20 http://{HostProxyNetFixture.WebV4}/ >/dev/null; echo tcp=$?",
            fixture.Client("udp", HostProxyNetFixture.WebV4, 5000),
            "exit 0");
        CommandResult r = await fixture.JailAsync([], script);

        Assert.True(r.ExitCode == 0, r.Describe());
        // 7: could not connect (a reset), not 28 (its own timeout, which a silent drop meant).
        Has(r, "tcp=7");
        // UDP: the local reject fails the send itself (EPERM), where a drop left recv waiting.
        Has(r, "udp=error PermissionError: [Errno 1] Operation not permitted");
        HasErr(r, $"refused unresolved tcp {HostProxyNetFixture.WebV4}:80");
        HasErr(r, $"refused unresolved udp {HostProxyNetFixture.WebV4}:5000");
    }

    [Fact]
    public async Task ACommandThatIsNotThereExits127AsEnvDoes()
    {
        fixture.Check();
        CommandResult r = await fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program, [.. DnswProgram.Prefix, "jail", "--", "no-such-command-dnsw"], TimeSpan.FromSeconds(60));
        Assert.True(r.ExitCode == 127, r.Describe());
    }

    [Fact]
    public async Task ObserveAllowsEveryHostAndLogsIt()
    {
        fixture.Check();
        string requests = fixture.Net.TempPath("hp-observe.jsonl");
        string script = string.Join("\n",
            $"echo other=$(curl -s -m 20 --cacert {fixture.CaFile} https://{O}/)",
            $"echo literal=$(curl -s -m 20 http://{HostProxyNetFixture.WebV4}/)",
            "exit 0");
        CommandResult r = await fixture.JailAsync(["--observe", "--request-log", requests, "--privacy", "full"], script);

        Assert.True(r.ExitCode == 0, r.Describe());
        Has(r, $"other=page for {O}");
        Has(r, $"literal=page for {HostProxyNetFixture.WebV4}");
        string[] lines = File.ReadAllLines(requests);
        Assert.Contains(lines, l => l.Contains($"\"sni\":\"{O}\"", StringComparison.Ordinal) && l.Contains("\"rule\":\"observe\"", StringComparison.Ordinal));
    }
}
