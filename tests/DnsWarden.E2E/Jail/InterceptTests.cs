using System.Runtime.Versioning;
using System.Text.Json;

namespace DnsWarden.E2E.Jail;

/// <summary>
/// <c>dnsw jail --intercept</c>: TLS to an allowed name is terminated with a certificate minted from the jail's own CA,
/// which curl, Python and git inside trust through the variables the jail sets (no <c>-k</c>, no <c>--cacert</c>); every
/// request inside is judged by method, host and path, and its Host must be the SNI. The far side (the web server's own
/// log of every SNI, request line and Host) proves what reached it.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class InterceptTests(HostProxyNetFixture fixture) : IClassFixture<HostProxyNetFixture>
{
    private const string A = HostProxyNetFixture.Allowed;
    private const string O = HostProxyNetFixture.Other;

    private static void Has(CommandResult r, string expected) => Assert.True(r.StdOut.Contains(expected, StringComparison.Ordinal), $"no '{expected}' in:\n{r.Describe()}");

    private static string? Str(JsonElement e, string key) => e.TryGetProperty(key, out JsonElement v) ? v.GetString() : null;

    private static string Line(CommandResult r, string prefix) =>
        r.StdOut.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is string l ? l[prefix.Length..] : throw new Xunit.Sdk.XunitException($"no '{prefix}' in:\n{r.Describe()}");

    [Fact]
    public async Task ClientsTrustTheMintedCertificateAndEveryRequestInsideIsJudged()
    {
        fixture.Check();
        int webLogStart = fixture.Web.StdOut.Length;
        string requests = fixture.Net.TempPath("intercept-requests.jsonl");
        string script = string.Join("\n",
            "echo \"env=$SSL_CERT_FILE $CURL_CA_BUNDLE $REQUESTS_CA_BUNDLE $GIT_SSL_CAINFO $NODE_EXTRA_CA_CERTS\"",
            "echo trustdir=$(dirname \"$SSL_CERT_FILE\")",
            "echo bundle=$(stat -c '%U %a' \"$SSL_CERT_FILE\") $(grep -c 'BEGIN CERTIFICATE' \"$SSL_CERT_FILE\")",
            "echo x >> \"$SSL_CERT_FILE\" 2>/dev/null; echo bundle-write=$?",
            // No -k, no --cacert: curl, Python's default context and git find the jail's CA through the environment.
            $"echo curl=$(curl -s -m 20 https://{A}/ok/curl)",
            $"echo python=$(python3 -c \"import urllib.request; print(urllib.request.urlopen('https://{A}/ok/python', timeout=20).read().decode().strip())\" 2>&1 | tail -1)",
            $"echo git=$(git ls-remote https://{A}/ok/repo.git 2>&1 | tr '\\n' ' ')",
            $"node -e \"require('https').get('https://{A}/ok/node', r => {{ let d = ''; r.on('data', c => d += c); r.on('end', () => console.log('node=' + d.trim())); }}).on('error', e => console.log('node=error ' + e.message))\"",
            // The proxy offers HTTP/1.1 only; a client that trusts only another CA fails its handshake, said on stderr.
            $"echo alpn=$(curl -sv -m 20 https://{A}/ok/alpn 2>&1 | grep -o 'ALPN: server accepted [^ ]*' | head -1)",
            $"curl -s -m 20 --cacert {fixture.CaFile} https://{A}/ok/untrusted >/dev/null; echo untrusted=$?",
            // Fronting inside TLS: the allowed name's SNI, another Host.
            $"echo host-differs=$(curl -s -m 20 -w ' %{{http_code}}' -H 'Host: {O}' https://{A}/ok/x)",
            // Method and path rules: GET under /ok/ only.
            $"echo post=$(curl -s -m 20 -w ' %{{http_code}}' -X POST -d data https://{A}/ok)",
            $"echo other-path=$(curl -s -m 20 -w ' %{{http_code}}' https://{A}/other)",
            // Two requests on one kept-alive TLS connection: the second is judged too.
            $"echo keepalive=$(curl -s -m 20 -w ' %{{http_code}};' https://{A}/ok/1 https://{A}/other/2)",
            // The certificate curl was shown: issued by the jail's CA (not the test CA the server uses).
            $"echo issuer=$(openssl s_client -connect {A}:443 -servername {A} -showcerts -verify_return_error </dev/null 2>/dev/null | grep -m1 '^ *i:' | sed 's/^ *i://')",
            "echo ca-subject=$(openssl x509 -in \"$NODE_EXTRA_CA_CERTS\" -noout -subject | sed 's/^subject=//')",
            $"echo verify=$(openssl s_client -connect {A}:443 -servername {A} -verify_return_error </dev/null 2>&1 | grep -m1 'Verify return code')",
            // Bad input after a completed handshake: garbage, then nothing at all.
            fixture.Client("tlsgarbage", A, 443, A),
            fixture.Client("tlssilent", A, 443, A),
            "exit 0");
        // The other name is allowed too, under /ok/: a request for it inside the allowed name's TLS would pass the rules, so
        // only the Host = SNI check stands between it and the server.
        CommandResult r = await fixture.JailAsync(["--intercept", "--upstream-ca", fixture.CaFile, "--allow", $"GET {A}/ok/", "--allow", $"GET {O}/ok/", "--request-log", requests, "--privacy", "full"], script);

        Assert.True(r.ExitCode == 0, r.Describe());
        string trustDir = Line(r, "trustdir=");
        Assert.StartsWith("/run/dnsw/jail-", trustDir, StringComparison.Ordinal);
        Has(r, $"env={trustDir}/bundle.pem {trustDir}/bundle.pem {trustDir}/bundle.pem {trustDir}/bundle.pem {trustDir}/ca.pem");
        Assert.Matches(@"^root 644 \d+$", Line(r, "bundle="));
        Assert.NotEqual("0", Line(r, "bundle-write="));
        Has(r, $"curl=page for {A}");
        Has(r, $"python=page for {A}");
        Has(r, $"node=page for {A}");
        Assert.Equal("ALPN: server accepted http/1.1", Line(r, "alpn="));
        Assert.Equal("60", Line(r, "untrusted="));
        Assert.Contains("the command's TLS handshake failed (does it trust the jail's CA?)", r.StdErr, StringComparison.Ordinal);

        // git reached the server over TLS it trusted: its error is about the repository, never the certificate.
        string git = Line(r, "git=");
        Assert.DoesNotContain("certificate", git, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("SSL", git, StringComparison.Ordinal);

        Assert.Equal($"dnsw jail: denied: host {O} differs from SNI {A} 403", Line(r, "host-differs="));
        Assert.Equal($"dnsw jail: denied: no rule allows POST {A}/ok (rules for {A}: GET {A}/ok/) 403", Line(r, "post="));
        Assert.Equal($"dnsw jail: denied: no rule allows GET {A}/other (rules for {A}: GET {A}/ok/) 403", Line(r, "other-path="));
        Assert.Equal($"page for {A} 200;dnsw jail: denied: no rule allows GET {A}/other/2 (rules for {A}: GET {A}/ok/) 403;", Line(r, "keepalive="));

        string issuer = Line(r, "issuer=").Trim();
        Assert.Contains("dnsw jail interception CA", issuer, StringComparison.Ordinal);
        Assert.Equal(Line(r, "ca-subject=").Trim(), issuer);
        Assert.Contains("Verify return code: 0 (ok)", Line(r, "verify="), StringComparison.Ordinal);

        Assert.Equal("after 0 s: HTTP/1.1 403 Forbidden", Line(r, "tlsgarbage="));
        Assert.Matches(@"^after (9|10|11) s: HTTP/1\.1 403 Forbidden$", Line(r, "tlssilent="));
        Assert.Contains("malformed request", r.StdErr, StringComparison.Ordinal);
        Assert.Contains("no request within 10 s of the TLS handshake", r.StdErr, StringComparison.Ordinal);

        // The request log: intercepted requests carry method, host and path.
        JsonElement[] log = [.. File.ReadAllLines(requests).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        Assert.Contains(log, e => Str(e, "protocol") == "https" && Str(e, "verdict") == "allowed"
            && Str(e, "method") == "GET" && Str(e, "host") == A && Str(e, "path") == "/ok/curl");
        Assert.Contains(log, e => Str(e, "protocol") == "https" && Str(e, "verdict") == "denied"
            && Str(e, "method") == "POST" && Str(e, "path") == "/ok");
        Assert.Contains(log, e => Str(e, "protocol") == "https" && Str(e, "verdict") == "denied"
            && Str(e, "host") == O);

        // The far side: allowed requests arrived (over the proxy's own TLS, SNI the allowed name); refused ones never.
        string web = fixture.Web.StdOut[webLogStart..];
        Assert.Contains($"SNI {A}", web, StringComparison.Ordinal);
        Assert.Contains($"REQ GET /ok/curl HTTP/1.1 HOST {A}", web, StringComparison.Ordinal);
        Assert.Contains($"REQ GET /ok/python HTTP/1.1 HOST {A}", web, StringComparison.Ordinal);
        Assert.Contains($"REQ GET /ok/repo.git/info/refs?service=git-upload-pack HTTP/1.1 HOST {A}", web, StringComparison.Ordinal);
        Assert.Contains($"REQ GET /ok/1 HTTP/1.1 HOST {A}", web, StringComparison.Ordinal);
        Assert.DoesNotContain(O, web, StringComparison.Ordinal);
        Assert.DoesNotContain("/other", web, StringComparison.Ordinal);
        Assert.DoesNotContain("POST", web, StringComparison.Ordinal);
        Assert.DoesNotContain("/ok/untrusted", web, StringComparison.Ordinal);

        // After the jail: the trust files are gone from the host's /run.
        Assert.False(Directory.Exists(trustDir), $"{trustDir} is still there");
    }

    [Fact]
    public async Task TheRealServersCertificateIsAlwaysChecked()
    {
        fixture.Check();
        int webLogStart = fixture.Web.StdOut.Length;

        // No --upstream-ca: the server's certificate comes from the test CA, which the system roots do not hold.
        CommandResult r = await fixture.JailAsync(["--intercept", "--allow", A], $"echo refused=$(curl -s -m 20 -w ' %{{http_code}}' https://{A}/checked)\nexit 0");

        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.Matches($@"^dnsw jail: denied: the server for {A.Replace(".", "\\.", StringComparison.Ordinal)} \(203\.0\.113\.90:443\) failed TLS validation: .* 403$", Line(r, "refused="));
        string web = fixture.Web.StdOut[webLogStart..];
        Assert.Contains($"SNI {A}", web, StringComparison.Ordinal);
        Assert.DoesNotContain("/checked", web, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AKilledInterceptingJailsTrustFilesAreRemovedByCleanup()
    {
        fixture.Check();
        NetnsProcess jail = fixture.Net.StartProcess(fixture.Host, "dnsw-intercept", DnswProgram.Program,
            [.. DnswProgram.Prefix, "jail", "--intercept", "--allow", A, "--upstream", "udp://" + HostProxyNetFixture.ResolverV4, "--", "sleep", "60"]);
        string? trust = null;
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (trust is null && DateTime.UtcNow < deadline)
        {
            trust = jail.Pid > 0 && Directory.Exists(Path.Combine("/run/dnsw", $"jail-{jail.Pid}.trust")) ? Path.Combine("/run/dnsw", $"jail-{jail.Pid}.trust") : null;
            await Task.Delay(100);
        }

        Assert.NotNull(trust);
        await jail.StopAsync(ProcessSignal.Kill, TimeSpan.FromSeconds(5));
        Assert.True(File.Exists(Path.Combine(trust, "bundle.pem")));

        CommandResult cleanup = await fixture.Net.ExecAsync(fixture.Host, DnswProgram.Program, [.. DnswProgram.Prefix, "jail", "--cleanup"]);
        cleanup.EnsureSuccess();
        Assert.False(Directory.Exists(trust), $"{trust} is still there after --cleanup");
    }

    [Fact]
    public async Task PlainHttpGetsTheSameMethodAndPathRulesPerRequest()
    {
        fixture.Check();
        int webLogStart = fixture.Web.StdOut.Length;
        string script = string.Join("\n",
            $"echo ok=$(curl -s -m 20 -w ' %{{http_code}}' http://{A}/ok/plain)",
            $"echo post=$(curl -s -m 20 -w ' %{{http_code}}' -X POST -d data http://{A}/ok)",
            $"echo keepalive=$(curl -s -m 20 -w ' %{{http_code}};' http://{A}/ok/1 http://{A}/other/2)",
            "exit 0");
        CommandResult r = await fixture.JailAsync(["--allow", $"GET {A}/ok/"], script);

        Assert.True(r.ExitCode == 0, r.Describe());
        Assert.Equal($"page for {A} 200", Line(r, "ok="));
        Assert.Equal($"dnsw jail: denied: no rule allows POST {A}/ok (rules for {A}: GET {A}/ok/) 403", Line(r, "post="));
        Assert.Equal($"page for {A} 200;dnsw jail: denied: no rule allows GET {A}/other/2 (rules for {A}: GET {A}/ok/) 403;", Line(r, "keepalive="));
        string web = fixture.Web.StdOut[webLogStart..];
        Assert.Contains($"REQ GET /ok/plain HTTP/1.1 HOST {A}", web, StringComparison.Ordinal);
        Assert.DoesNotContain("/other", web, StringComparison.Ordinal);
        Assert.DoesNotContain("POST", web, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABrokenCaFileIsOneLineNamingItAndTheJailsOwnStatus()
    {
        fixture.Check();
        string garbage = fixture.Net.TempPath("intercept-garbage.pem");
        await File.WriteAllTextAsync(garbage, "not a certificate\n");
        CommandResult r = await fixture.JailAsync(["--intercept", "--ca-cert", garbage, "--ca-key", garbage, "--allow", A], "exit 0");
        Assert.Equal(125, r.ExitCode);
        Assert.Equal($"dnsw jail: {garbage}: expected a PEM certificate (-----BEGIN CERTIFICATE-----)", r.StdErr.Trim());

        r = await fixture.JailAsync(["--intercept", "--upstream-ca", garbage, "--allow", A], "exit 0");
        Assert.Equal(125, r.ExitCode);
        Assert.Equal($"dnsw jail: --upstream-ca {garbage}: expected PEM certificates (-----BEGIN CERTIFICATE-----), found none", r.StdErr.Trim());

        r = await fixture.JailAsync(["--intercept"], "exit 0");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--intercept needs --allow or --observe", r.StdErr, StringComparison.Ordinal);
    }
}
