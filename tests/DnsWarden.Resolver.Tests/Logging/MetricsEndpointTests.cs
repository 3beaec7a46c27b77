using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using DnsWarden.Resolver.Logging;

namespace DnsWarden.Resolver.Tests.Logging;

public sealed class MetricsEndpointTests
{
    private static async Task<MetricsEndpoint> StartAsync(TimeSpan? timeout = null, int maxConnections = MetricsEndpoint.DefaultMaxConnections)
    {
        var (source, _) = MetricsFixtures.Build();
        var endpoint = new MetricsEndpoint(source, timeout, maxConnections);
        await endpoint.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), TestContext.Current.CancellationToken);
        return endpoint;
    }

    // Loopback only, and never through a proxy the environment may name.
    private static HttpClient Client() => new(new HttpClientHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(20) };

    private static Uri Url(MetricsEndpoint endpoint, string path) => new($"http://127.0.0.1:{endpoint.LocalEndpoint!.Port}{path}");

    /// <summary>Sends raw bytes and reads until the server closes.</summary>
    private static async Task<string> RawAsync(MetricsEndpoint endpoint, byte[] request, TimeSpan? pauseAfter = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, endpoint.LocalEndpoint!.Port, TestContext.Current.CancellationToken);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync(request, TestContext.Current.CancellationToken);
        if (pauseAfter is { } pause)
        {
            await Task.Delay(pause, TestContext.Current.CancellationToken);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var response = new MemoryStream();
        await stream.CopyToAsync(response, timeout.Token);
        return Encoding.Latin1.GetString(response.ToArray());
    }

    [Fact]
    public async Task BindsAnEphemeralPortOnLoopback()
    {
        await using MetricsEndpoint endpoint = await StartAsync();
        Assert.Equal(IPAddress.Loopback, endpoint.LocalEndpoint!.Address);
        Assert.NotEqual(0, endpoint.LocalEndpoint.Port);
    }

    [Fact]
    public async Task GetMetricsServesPrometheusTextByDefault()
    {
        await using MetricsEndpoint endpoint = await StartAsync();
        using HttpClient http = Client();
        using HttpResponseMessage response = await http.GetAsync(Url(endpoint, "/metrics"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString().Replace("; ", ";", StringComparison.Ordinal).Replace(";", "; ", StringComparison.Ordinal));
        Assert.True(response.Headers.ConnectionClose);
        string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.StartsWith("# HELP dnsw_queries_total ", body, StringComparison.Ordinal);
        Assert.DoesNotContain("# EOF", body, StringComparison.Ordinal);
        Assert.Contains("dnsw_tracked_addresses 7\n", body, StringComparison.Ordinal);
        Assert.Equal(1, endpoint.Served);
    }

    [Fact]
    public async Task AcceptOpenMetricsGetsOpenMetrics()
    {
        await using MetricsEndpoint endpoint = await StartAsync();
        using HttpClient http = Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, Url(endpoint, "/metrics?x=1"));
        request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse("application/openmetrics-text; version=1.0.0"));
        request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse("text/plain; q=0.5"));
        using HttpResponseMessage response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        MediaTypeHeaderValue type = response.Content.Headers.ContentType!;
        Assert.Equal("application/openmetrics-text", type.MediaType);
        Assert.Contains(type.Parameters, p => p.Name == "version" && p.Value == "1.0.0");
        string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.EndsWith("# EOF\n", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeadGivesTheLengthWithoutTheBody()
    {
        await using MetricsEndpoint endpoint = await StartAsync();
        using HttpClient http = Client();
        using var request = new HttpRequestMessage(HttpMethod.Head, Url(endpoint, "/metrics"));
        using HttpResponseMessage response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Content.Headers.ContentLength > 1000);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/metrics/")]
    [InlineData("/Metrics")]
    [InlineData("/favicon.ico")]
    public async Task OtherPathsAreNotFound(string path)
    {
        await using MetricsEndpoint endpoint = await StartAsync();
        using HttpClient http = Client();
        using HttpResponseMessage response = await http.GetAsync(Url(endpoint, path), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task PostIsNotAllowed()
    {
        await using MetricsEndpoint endpoint = await StartAsync();
        using HttpClient http = Client();
        using var content = new StringContent("x");
        using HttpResponseMessage response = await http.PostAsync(Url(endpoint, "/metrics"), content, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Contains("GET", response.Content.Headers.Allow);
    }

    [Theory]
    [InlineData("garbage\r\n\r\n")]
    [InlineData("GET /metrics\r\n\r\n")]
    [InlineData("GET /metrics HTTP/2.0\r\n\r\n")]
    [InlineData("GET metrics HTTP/1.1\r\n\r\n")]
    [InlineData("get /metrics HTTP/1.1\r\n\r\n")]
    [InlineData("GET  /metrics HTTP/1.1\r\n\r\n")]
    [InlineData("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n")]
    [InlineData("GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n")]
    [InlineData("\0\u0001\u0002\r\n\r\n")]
    public async Task GarbageGets400(string request)
    {
        await using MetricsEndpoint endpoint = await StartAsync();
        string response = await RawAsync(endpoint, Encoding.Latin1.GetBytes(request));
        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", response, StringComparison.Ordinal);
        Assert.Contains("\r\nConnection: close\r\n", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BareLineFeedsAreAccepted()
    {
        await using MetricsEndpoint endpoint = await StartAsync();
        string response = await RawAsync(endpoint, "GET /metrics HTTP/1.0\nAccept: application/openmetrics-text\n\n"u8.ToArray());
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response, StringComparison.Ordinal);
        Assert.EndsWith("# EOF\n", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OversizedHeadGets400()
    {
        await using MetricsEndpoint endpoint = await StartAsync();
        byte[] request = Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nX-Filler: " + new string('a', MetricsEndpoint.MaxRequestHeadBytes) + "\r\n\r\n");
        string response = await RawAsync(endpoint, request);
        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowHeadTimesOutWith408()
    {
        await using MetricsEndpoint endpoint = await StartAsync(timeout: TimeSpan.FromMilliseconds(300));
        var clock = Stopwatch.StartNew();

        // Slowloris: the head never ends.
        string response = await RawAsync(endpoint, "GET /metrics HTTP/1.1\r\nHost: x\r\n"u8.ToArray());
        Assert.StartsWith("HTTP/1.1 408 Request Timeout\r\n", response, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), clock.Elapsed.ToString());
        Assert.True(endpoint.Rejected >= 1);
    }

    [Fact]
    public async Task ConnectionsOverTheLimitAreClosed()
    {
        await using MetricsEndpoint endpoint = await StartAsync(timeout: TimeSpan.FromSeconds(5), maxConnections: 1);
        using var idle = new TcpClient();
        await idle.ConnectAsync(IPAddress.Loopback, endpoint.LocalEndpoint!.Port, TestContext.Current.CancellationToken);

        // Until the idle connection holds the only slot (accepted, waiting for its head), a request may still get through.
        string second = "";
        for (int attempt = 0; attempt < 50 && second.Length == 0; attempt++)
        {
            try
            {
                second = await RawAsync(endpoint, "GET /metrics HTTP/1.1\r\n\r\n"u8.ToArray());
            }
            catch (IOException)
            {
                // Closed with the request unread: the kernel resets the connection, which is a refusal too.
                second = "";
                break;
            }

            if (second.StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
            {
                second = "";
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }
        }

        Assert.Equal("", second);
        Assert.True(endpoint.Rejected >= 1);
    }

    [Fact]
    public async Task DisposeStopsListening()
    {
        MetricsEndpoint endpoint = await StartAsync();
        int port = endpoint.LocalEndpoint!.Port;
        await endpoint.DisposeAsync();
        using var client = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(async () => await client.ConnectAsync(IPAddress.Loopback, port, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task CurlFetchesMetrics()
    {
        string? curl = MetricsExpositionTests.FindTool("curl");
        if (curl is null)
        {
            Assert.Skip("curl is not installed");
        }

        await using MetricsEndpoint endpoint = await StartAsync();
        var psi = new ProcessStartInfo(curl)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in new[] { "-s", "--noproxy", "*", "-H", "Accept: application/openmetrics-text; version=1.0.0", $"http://127.0.0.1:{endpoint.LocalEndpoint!.Port}/metrics" })
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        using StreamReader stdout = p.StandardOutput;
        string body = await stdout.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, p.ExitCode);
        Assert.Contains("dnsw_upstream_up{upstream=\"udp://198.51.100.53\",protocol=\"udp\"} 1\n", body, StringComparison.Ordinal);
        Assert.EndsWith("# EOF\n", body, StringComparison.Ordinal);
    }
}
