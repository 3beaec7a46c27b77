using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DnsWarden.Resolver.Tests.Upstreams;

/// <summary>Tests that start dnsmasq or kresd share one of each and run one at a time (the machine has two cores).</summary>
[CollectionDefinition(Name)]
public sealed class UpstreamServersCollection : ICollectionFixture<UpstreamServers>
{
    public const string Name = "upstream servers";
}

/// <summary>
/// A dnsmasq (UDP and TCP) and a kresd (DoT and DoH, with a CA and a "dns.test" certificate made here) on 127.0.0.1,
/// random free ports, local data only: neither forwards anywhere. Started on first use, killed with the fixture.
/// </summary>
public sealed class UpstreamServers : IAsyncDisposable
{
    public const string ServerName = "dns.test";
    public const string DnsmasqAddress = "10.1.2.3";
    public const string KresdAddress = "10.9.9.9";

    /// <summary>Four 200-byte strings: over 512 bytes, so dnsmasq truncates it over UDP for a query without EDNS.</summary>
    public static readonly string BigTxtString = new('x', 200);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly string _dir = Directory.CreateTempSubdirectory("dnsw-upstreams-").FullName;
    private ServerProcess? _dnsmasq;
    private ServerProcess? _kresd;

    public int DnsmasqPort { get; private set; }

    public int DotPort { get; private set; }

    public int DohPort { get; private set; }

    /// <summary>PEM of the CA that signed the kresd certificate.</summary>
    public string CaFile => Path.Combine(_dir, "ca.pem");

    /// <summary>PEM of a CA that signed nothing here.</summary>
    public string OtherCaFile => Path.Combine(_dir, "other-ca.pem");

    public string LeafFile => Path.Combine(_dir, "leaf.pem");

    /// <summary>Starts dnsmasq unless it runs already; skips the test when it is not installed.</summary>
    public async Task EnsureDnsmasqAsync()
    {
        string exe = Tools.Require("dnsmasq");
        await _gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (_dnsmasq is not null)
            {
                return;
            }

            DnsmasqPort = FreePort.Get();
            _dnsmasq = ServerProcess.Start(
                exe,
                [
                    "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1",
                    "--port=" + DnsmasqPort.ToString(CultureInfo.InvariantCulture), "--pid-file=", "--user=root", "--log-facility=-",
                    "--cache-size=0", "--address=/a.test/" + DnsmasqAddress,
                    $"--txt-record=big.test,{BigTxtString},{BigTxtString},{BigTxtString},{BigTxtString}",
                    "--txt-record=small.test,hello",
                ]);
            await _dnsmasq.WaitForTcpAsync(DnsmasqPort);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Starts kresd (and makes its certificates) unless it runs already; skips when kresd or openssl is missing.</summary>
    public async Task EnsureKresdAsync()
    {
        string exe = Tools.Require("kresd");
        string openssl = Tools.Require("openssl");
        await _gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (_kresd is not null)
            {
                return;
            }

            await MakeCertificatesAsync(openssl);
            (_kresd, int dot, int doh) = await StartKresdAsync(exe, "kresd");
            DotPort = dot;
            DohPort = doh;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// A kresd of the caller's own (same certificate, its own ports) for tests that may leave it in a bad state;
    /// the caller disposes it.
    /// </summary>
    public async Task<(ServerProcess Server, int DotPort, int DohPort)> StartPrivateKresdAsync(string label)
    {
        await EnsureKresdAsync();
        return await StartKresdAsync(Tools.Require("kresd"), label);
    }

    private async Task<(ServerProcess Server, int DotPort, int DohPort)> StartKresdAsync(string exe, string label)
    {
        int dotPort = FreePort.Get();
        int dohPort = FreePort.Get();
        string rundir = Path.Combine(_dir, label);
        Directory.CreateDirectory(rundir);
        string config = Path.Combine(_dir, label + ".lua");
        var lua = new StringBuilder();
        lua.AppendLine("modules.unload('priming')");
        lua.AppendLine("modules.unload('detect_time_skew')");
        lua.AppendLine("modules.unload('detect_time_jump')");
        lua.AppendLine("modules.unload('ta_signal_query')");
        lua.AppendLine("trust_anchors.remove('.')");
        lua.AppendLine("cache.size = 10 * MB");

        // Belt and braces: even a stray outgoing query could only leave from loopback.
        lua.AppendLine("net.outgoing_v4('127.0.0.1')");
        lua.AppendLine("net.outgoing_v6('::1')");
        lua.AppendLine(CultureInfo.InvariantCulture, $"net.tls('{LeafFile}', '{Path.Combine(_dir, "leaf.key")}')");
        lua.AppendLine(CultureInfo.InvariantCulture, $"net.listen('127.0.0.1', {dotPort}, {{ kind = 'tls' }})");
        lua.AppendLine(CultureInfo.InvariantCulture, $"net.listen('127.0.0.1', {dohPort}, {{ kind = 'doh2' }})");

        // Every A query answers locally, every other type gets NODATA: nothing is ever resolved or forwarded.
        lua.AppendLine(CultureInfo.InvariantCulture, $"policy.add(policy.all(policy.ANSWER({{ [kres.type.A] = {{ rdata = kres.str2ip('{KresdAddress}'), ttl = 300 }} }}, true)))");
        await File.WriteAllTextAsync(config, lua.ToString(), TestContext.Current.CancellationToken);

        ServerProcess server = ServerProcess.Start(exe, ["-n", "-c", config, rundir]);
        try
        {
            await server.WaitForTcpAsync(dotPort);
            await server.WaitForTcpAsync(dohPort);
            return (server, dotPort, dohPort);
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    private async Task MakeCertificatesAsync(string openssl)
    {
        string ec = "ec_paramgen_curve:prime256v1";
        await RunAsync(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", ec, "-nodes", "-days", "2", "-subj", "/CN=DnsWarden Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", Path.Combine(_dir, "ca.key"), "-out", CaFile);
        await RunAsync(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", ec, "-nodes", "-days", "2", "-subj", "/CN=Other Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", Path.Combine(_dir, "other-ca.key"), "-out", OtherCaFile);
        await RunAsync(openssl, "req", "-newkey", "ec", "-pkeyopt", ec, "-nodes", "-subj", "/CN=" + ServerName,
            "-keyout", Path.Combine(_dir, "leaf.key"), "-out", Path.Combine(_dir, "leaf.csr"));
        string ext = Path.Combine(_dir, "leaf.ext");
        await File.WriteAllTextAsync(ext, $"subjectAltName=DNS:{ServerName}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
        await RunAsync(openssl, "x509", "-req", "-in", Path.Combine(_dir, "leaf.csr"), "-CA", CaFile, "-CAkey", Path.Combine(_dir, "ca.key"),
            "-CAcreateserial", "-days", "2", "-out", LeafFile, "-extfile", ext);
    }

    private static async Task RunAsync(string exe, params string[] args)
    {
        var info = new ProcessStartInfo(exe) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        using Process p = Process.Start(info)!;
        using StreamReader stderrReader = p.StandardError;
        using StreamReader stdoutReader = p.StandardOutput;
        Task<string> err = stderrReader.ReadToEndAsync();
        Task<string> output = stdoutReader.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"{exe} {string.Join(' ', args)} failed: {await err}");
    }

    public async ValueTask DisposeAsync()
    {
        _dnsmasq?.Dispose();
        _kresd?.Dispose();
        _gate.Dispose();
        await Task.Yield();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A server that has not quite let go of its rundir; the temp cleaner gets it.
        }
    }
}

/// <summary>A server process killed (with its children) on dispose; its output is kept for failure messages.</summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process)
    {
        _process = process;
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static ServerProcess Start(string exe, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(exe) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = info };
        var server = new ServerProcess(process);
        process.OutputDataReceived += server.Append;
        process.ErrorDataReceived += server.Append;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    private void Append(object sender, DataReceivedEventArgs e)
    {
        if (e.Data is not null)
        {
            lock (_output)
            {
                _output.AppendLine(e.Data);
            }
        }
    }

    /// <summary>Waits until the server accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public async Task WaitForTcpAsync(int port)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(15))
        {
            Assert.False(_process.HasExited, $"{_process.StartInfo.FileName} exited early: {Output}");
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        Assert.Fail($"{_process.StartInfo.FileName} did not listen on {port}: {Output}");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }
}

public static class FreePort
{
    /// <summary>A port free for both TCP and UDP on 127.0.0.1 right now.</summary>
    public static int Get()
    {
        for (int i = 0; i < 50; i++)
        {
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // Taken for UDP; try another.
            }
        }

        throw new InvalidOperationException("no free port on 127.0.0.1");
    }
}

public static class Tools
{
    private static readonly string[] s_dirs = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

    /// <summary>The tool's full path; skips the test, saying so, when it is not installed.</summary>
    public static string Require(string name)
    {
        IEnumerable<string> path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        foreach (string dir in path.Concat(s_dirs))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Skip($"{name} is not installed (apt-get install {(name == "kresd" ? "knot-resolver" : name)}); this test runs a real {name}.");
        return "";
    }
}
