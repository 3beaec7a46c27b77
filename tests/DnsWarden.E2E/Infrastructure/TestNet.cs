using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace DnsWarden.E2E;

/// <summary>
/// A throwaway topology of network namespaces joined only to each other. Nothing it makes touches the root
/// namespace: veths are created inside a test namespace with their peer moved to another one, and there are
/// no routes out. Disposing kills every process and capture it started, deletes its namespaces (which removes
/// their veths) and its temp directory, also when the test failed.
/// </summary>
public sealed partial class TestNet : IAsyncDisposable
{
    /// <summary>Every namespace a test makes starts with this, followed by the owning test process's pid.</summary>
    public const string NamePrefix = "dnsw-t-";

    /// <summary>Linux IFNAMSIZ is 16 including the terminating NUL.</summary>
    public const int MaxInterfaceNameLength = 15;

    private static readonly TimeSpan s_setupTimeout = TimeSpan.FromSeconds(10);
    private static readonly SemaphoreSlim s_sweepGate = new(1, 1);
    private static bool s_swept;

    private readonly Lock _gate = new();
    private readonly List<string> _namespaces = [];
    private readonly List<NetnsProcess> _processes = [];
    private readonly List<DumpcapCapture> _captures = [];
    private int _vethCounter;
    private int _disposed;

    private TestNet(string runId, string tempDirectory)
    {
        RunId = runId;
        TempDirectory = tempDirectory;
    }

    /// <summary>Short random id shared by every name this topology makes.</summary>
    public string RunId { get; }

    /// <summary>A private directory for configs, captures and server state; deleted at teardown.</summary>
    public string TempDirectory { get; }

    public IReadOnlyList<string> Namespaces
    {
        get
        {
            lock (_gate)
            {
                return _namespaces.ToArray();
            }
        }
    }

    /// <summary>
    /// Makes an empty topology. Skips the test when not root or when <c>ip</c>/<c>ss</c>/<c>setsid</c>
    /// are missing. The first call in a process also sweeps namespaces left by crashed earlier runs.
    /// </summary>
    public static async Task<TestNet> CreateAsync()
    {
        HostTools.RequireRoot();
        HostTools.RequireTools("ip", "ss", "setsid");
        await SweepStaleOnceAsync();

        string runId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        string temp = Path.Combine(Path.GetTempPath(), $"{NamePrefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{runId}");
        Directory.CreateDirectory(temp);
        return new TestNet(runId, temp);
    }

    /// <summary>A path inside <see cref="TempDirectory"/>.</summary>
    public string TempPath(string name) => Path.Combine(TempDirectory, name);

    /// <summary>Creates a namespace named <c>dnsw-t-PID-RUNID-ROLE</c> with <c>lo</c> up, and returns its name.</summary>
    public async Task<string> AddNamespaceAsync(string role)
    {
        if (!RoleRegex().IsMatch(role))
        {
            throw new ArgumentException("Role must be 1-12 lowercase letters or digits.", nameof(role));
        }

        string name = $"{NamePrefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{RunId}-{role}";
        await IpAsync("netns", "add", name);
        lock (_gate)
        {
            _namespaces.Add(name);
        }

        await IpAsync("-n", name, "link", "set", "lo", "up");
        return name;
    }

    /// <summary>
    /// Creates a veth pair with one end in each namespace, both up. Default names are <c>dw{RunId}{n}a/b</c>,
    /// unique on the host so a leak would be easy to spot.
    /// </summary>
    public async Task<VethPair> AddVethAsync(string namespaceA, string namespaceB, string? interfaceA = null, string? interfaceB = null)
    {
        EnsureOwned(namespaceA);
        EnsureOwned(namespaceB);
        int n = Interlocked.Increment(ref _vethCounter);
        interfaceA ??= $"dw{RunId}{n.ToString(CultureInfo.InvariantCulture)}a";
        interfaceB ??= $"dw{RunId}{n.ToString(CultureInfo.InvariantCulture)}b";
        ValidateInterfaceName(interfaceA);
        ValidateInterfaceName(interfaceB);

        // Made inside A with the peer sent straight to B, so no end ever exists in the root namespace.
        await IpAsync("-n", namespaceA, "link", "add", interfaceA, "type", "veth", "peer", "name", interfaceB, "netns", namespaceB);
        await IpAsync("-n", namespaceA, "link", "set", interfaceA, "up");
        await IpAsync("-n", namespaceB, "link", "set", interfaceB, "up");
        return new VethPair(namespaceA, interfaceA, namespaceB, interfaceB);
    }

    /// <summary>
    /// Adds an address in CIDR form. IPv6 gets <c>nodad</c> so it is usable at once. Only test ranges are accepted.
    /// </summary>
    public async Task AddAddressAsync(string netns, string interfaceName, string cidr)
    {
        EnsureOwned(netns);
        EnsureTestPrefix(cidr);
        bool v6 = cidr.Contains(':', StringComparison.Ordinal);
        if (v6)
        {
            await IpAsync("-n", netns, "-6", "addr", "add", cidr, "dev", interfaceName, "nodad");
        }
        else
        {
            await IpAsync("-n", netns, "addr", "add", cidr, "dev", interfaceName);
        }
    }

    /// <summary>
    /// Waits until no IPv6 address of the namespace is tentative (duplicate address detection over, link-local ones
    /// included), so every address can be used and every listing shows its final state.
    /// </summary>
    public async Task WaitForAddressesAsync(string netns)
    {
        EnsureOwned(netns);
        DateTime deadline = DateTime.UtcNow + s_setupTimeout;
        while (true)
        {
            CommandResult tentative = (await ExecAsync(netns, "ip", ["-6", "addr", "show", "tentative"], s_setupTimeout)).EnsureSuccess();
            if (tentative.StdOut.Trim().Length == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"IPv6 addresses still tentative in {netns} after {s_setupTimeout.TotalSeconds:F0} s:\n{tentative.StdOut}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Adds a route (<c>default</c> or a prefix) via a gateway and/or out of a device.</summary>
    public async Task AddRouteAsync(string netns, string destination, string? via = null, string? device = null)
    {
        await IpAsync([.. RouteArgs(netns, "add", destination, via, device)]);
    }

    /// <summary>
    /// Sets or changes a route (<c>ip route replace</c>), so a scenario can switch egress between phases. The same
    /// guards as <see cref="AddRouteAsync"/>: a gateway inside the test ranges, or a device of the namespace.
    /// </summary>
    public async Task ReplaceRouteAsync(string netns, string destination, string? via = null, string? device = null)
    {
        await IpAsync([.. RouteArgs(netns, "replace", destination, via, device)]);
    }

    /// <summary>Removes a route when it is there (<c>ip route del</c>); a route already gone is no error.</summary>
    public async Task DeleteRouteAsync(string netns, string destination)
    {
        EnsureOwned(netns);
        bool v6 = destination.Contains(':', StringComparison.Ordinal);
        CommandResult r = await ProcessRunner.RunAsync("ip", ["-n", netns, v6 ? "-6" : "-4", "route", "del", destination], s_setupTimeout);
        if (!r.Succeeded && !r.StdErr.Contains("No such process", StringComparison.Ordinal))
        {
            r.EnsureSuccess();
        }
    }

    private List<string> RouteArgs(string netns, string verb, string destination, string? via, string? device)
    {
        EnsureOwned(netns);
        if (via is null && device is null)
        {
            throw new ArgumentException("A route needs a gateway or a device.");
        }

        if (via is not null)
        {
            EnsureTestPrefix(via);
        }

        if (device is not null)
        {
            ValidateInterfaceName(device);
        }

        bool v6 = destination.Contains(':', StringComparison.Ordinal) || (via?.Contains(':', StringComparison.Ordinal) ?? false);
        var args = new List<string> { "-n", netns, v6 ? "-6" : "-4", "route", verb, destination };
        if (via is not null)
        {
            args.AddRange(["via", via]);
        }

        if (device is not null)
        {
            args.AddRange(["dev", device]);
        }

        return args;
    }

    /// <summary>Writes a sysctl inside the namespace (e.g. <c>net.ipv4.ip_forward</c>, <c>1</c>).</summary>
    public async Task SetSysctlAsync(string netns, string key, string value)
    {
        EnsureOwned(netns);
        if (!SysctlKeyRegex().IsMatch(key) || !SysctlValueRegex().IsMatch(value))
        {
            throw new ArgumentException($"Unexpected sysctl '{key}={value}'.");
        }

        string path = "/proc/sys/" + key.Replace('.', '/');

        // /proc/sys/net is per namespace, so the write must happen from inside it.
        CommandResult r = await ExecAsync(netns, "sh", ["-c", "printf '%s\\n' \"$1\" > \"$0\"", path, value], s_setupTimeout);
        r.EnsureSuccess();
    }

    /// <summary>Turns on IPv4 and IPv6 forwarding inside the namespace.</summary>
    public async Task EnableForwardingAsync(string netns)
    {
        await SetSysctlAsync(netns, "net.ipv4.ip_forward", "1");
        await SetSysctlAsync(netns, "net.ipv6.conf.all.forwarding", "1");
    }

    /// <summary>Runs a command inside the namespace (<c>ip netns exec</c>) and returns its exit code and output.</summary>
    public Task<CommandResult> ExecAsync(
        string netns,
        string fileName,
        IEnumerable<string> args,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        EnsureOwned(netns);
        string[] argv = ["netns", "exec", netns, HostTools.Find(fileName) ?? fileName, .. args];
        return ProcessRunner.RunAsync("ip", argv, timeout, cancellationToken);
    }

    /// <summary>Starts a long-running process inside the namespace; it is killed at teardown.</summary>
    public NetnsProcess StartProcess(string netns, string label, string fileName, IEnumerable<string> args)
    {
        EnsureOwned(netns);
        NetnsProcess process = NetnsProcess.Start(netns, label, fileName, args);
        lock (_gate)
        {
            _processes.Add(process);
        }

        return process;
    }

    /// <summary>
    /// Starts a server inside the namespace and returns once every listener shows in <c>ss -lnH</c> there;
    /// fails with the server's output when it exits or is not ready in time.
    /// </summary>
    public async Task<NetnsProcess> StartServerAsync(
        string netns,
        string label,
        string fileName,
        IEnumerable<string> args,
        IReadOnlyList<Listener> waitFor,
        TimeSpan? readyTimeout = null)
    {
        NetnsProcess process = StartProcess(netns, label, fileName, args);
        await WaitForListenersAsync(netns, waitFor, readyTimeout ?? s_setupTimeout, process);
        return process;
    }

    /// <summary>Polls <c>ss -lnHtu</c> inside the namespace until every listener is there.</summary>
    public async Task WaitForListenersAsync(string netns, IReadOnlyList<Listener> listeners, TimeSpan timeout, NetnsProcess? owner = null)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        string last = string.Empty;
        while (true)
        {
            CommandResult ss = await ExecAsync(netns, "ss", ["-lnHtu"], s_setupTimeout);
            last = ss.StdOut;
            string[] lines = last.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Listener[] missing = listeners.Where(l => !lines.Any(l.Matches)).ToArray();
            if (missing.Length == 0)
            {
                return;
            }

            if (owner is not null && owner.HasExited)
            {
                throw new InvalidOperationException(
                    $"{owner.Label} exited before listening on {string.Join(", ", missing)}.\n{owner.Describe()}");
            }

            if (DateTime.UtcNow > deadline)
            {
                string ownerText = owner is null ? string.Empty : "\n" + owner.Describe();
                throw new TimeoutException(
                    $"Not listening within {timeout.TotalSeconds:F0} s in {netns}: {string.Join(", ", missing)}.\nss:\n{last}{ownerText}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Starts <c>dumpcap</c> on one or more interfaces of the namespace, writing pcapng (with interface names),
    /// and returns once it is really capturing. Stop it with <see cref="DumpcapCapture.StopAsync"/> (SIGINT,
    /// then the file is complete); teardown stops it otherwise.
    /// </summary>
    public async Task<DumpcapCapture> StartCaptureAsync(
        string netns,
        IReadOnlyList<string> interfaces,
        string? outputPath = null,
        string? captureFilter = null)
    {
        EnsureOwned(netns);
        HostTools.RequireTools("dumpcap");
        if (interfaces.Count == 0)
        {
            throw new ArgumentException("At least one interface.", nameof(interfaces));
        }

        outputPath ??= TempPath($"capture-{Guid.NewGuid():N}.pcapng");
        DumpcapCapture capture = await DumpcapCapture.StartAsync(netns, interfaces, outputPath, captureFilter, s_setupTimeout);
        lock (_gate)
        {
            _captures.Add(capture);
        }

        return capture;
    }

    /// <summary>Names of all namespaces on the host (<c>ip netns list</c>).</summary>
    public static async Task<IReadOnlyList<string>> ListNamespacesAsync()
    {
        CommandResult r = await ProcessRunner.RunAsync("ip", ["netns", "list"], s_setupTimeout);
        r.EnsureSuccess();
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', 2)[0].Trim())
            .Where(n => n.Length > 0)
            .ToArray();
    }

    /// <summary>
    /// Deletes <c>dnsw-t-PID-…</c> namespaces (and temp dirs) whose owning test process is gone, killing any
    /// process still inside them. Namespaces of live test processes, this one included, are left alone.
    /// </summary>
    public static async Task<IReadOnlyList<string>> SweepStaleAsync()
    {
        var removed = new List<string>();
        foreach (string name in await ListNamespacesAsync())
        {
            if (IsStale(name))
            {
                await DeleteNamespaceAsync(name);
                removed.Add(name);
            }
        }

        foreach (string dir in Directory.EnumerateDirectories(Path.GetTempPath(), NamePrefix + "*"))
        {
            if (IsStale(Path.GetFileName(dir)))
            {
                TryDeleteDirectory(dir);
            }
        }

        return removed;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var errors = new List<Exception>();
        DumpcapCapture[] captures;
        NetnsProcess[] processes;
        string[] namespaces;
        lock (_gate)
        {
            captures = _captures.ToArray();
            processes = _processes.ToArray();
            namespaces = _namespaces.ToArray();
        }

        // Captures first, gently, so their files are complete for a test that wants to look after a failure.
        foreach (DumpcapCapture c in captures)
        {
            await CollectAsync(errors, async () => await c.DisposeAsync());
        }

        await Task.WhenAll(processes.Select(p => CollectAsync(errors, async () => await p.DisposeAsync())));

        foreach (string ns in namespaces)
        {
            await CollectAsync(errors, () => DeleteNamespaceAsync(ns));
        }

        TryDeleteDirectory(TempDirectory);
        IReadOnlyList<string> left = await ListNamespacesAsync();
        string[] stillThere = namespaces.Where(left.Contains).ToArray();
        if (stillThere.Length > 0)
        {
            errors.Add(new InvalidOperationException($"Namespaces still present after teardown: {string.Join(", ", stillThere)}"));
        }

        if (errors.Count > 0)
        {
            throw new AggregateException("TestNet teardown failed.", errors);
        }
    }

    private static async Task CollectAsync(List<Exception> errors, Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception ex)
        {
            lock (errors)
            {
                errors.Add(ex);
            }
        }
    }

    /// <summary>
    /// Gives a namespace its own /etc/hosts and /etc/resolv.conf (`ip netns exec` bind-mounts the files of
    /// /etc/netns/NAME over them), so a client that insists on a host name gets one without any resolver:
    /// the name comes from the file, and a miss goes to the namespace's own loopback, never the host's resolver.
    /// Removed with the namespace.
    /// </summary>
    public async Task SetHostsAsync(string netns, IReadOnlyList<(string Address, string Name)> entries)
    {
        EnsureOwned(netns);
        string dir = EtcNetnsDirectory(netns);
        Directory.CreateDirectory(dir);
        await File.WriteAllLinesAsync(Path.Combine(dir, "hosts"), entries.Select(e => $"{e.Address} {e.Name}"));
        await File.WriteAllTextAsync(Path.Combine(dir, "resolv.conf"), "nameserver 127.0.0.1\n");
    }

    /// <summary>
    /// Points the namespace's resolver at <paramref name="nameservers"/> (test ranges only): <c>ip netns exec</c>
    /// bind-mounts /etc/netns/NAME/resolv.conf on every run, so a change applies to the next command. Removed
    /// with the namespace.
    /// </summary>
    public async Task SetResolvConfAsync(string netns, IReadOnlyList<string> nameservers)
    {
        EnsureOwned(netns);
        foreach (string ns in nameservers)
        {
            EnsureTestPrefix(ns);
        }

        string dir = EtcNetnsDirectory(netns);
        Directory.CreateDirectory(dir);

        // Without options the stub retries for long; a dead tunnel resolver should fail a step fast, not hang it.
        await File.WriteAllTextAsync(
            Path.Combine(dir, "resolv.conf"),
            string.Concat(nameservers.Select(n => $"nameserver {n}\n")) + "options timeout:2 attempts:1\n");
    }

    private static string EtcNetnsDirectory(string netns) => Path.Combine("/etc/netns", netns);

    private static async Task DeleteNamespaceAsync(string name)
    {
        // A process left inside keeps the namespace (and its veths) alive after `ip netns del`.
        CommandResult pids = await ProcessRunner.RunAsync("ip", ["netns", "pids", name], s_setupTimeout);
        foreach (string line in pids.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (int.TryParse(line.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                ProcessRunner.Signal(pid, ProcessSignal.Kill);
            }
        }

        CommandResult del = await ProcessRunner.RunAsync("ip", ["netns", "del", name], s_setupTimeout);
        TryDeleteDirectory(EtcNetnsDirectory(name));
        if (!del.Succeeded && (await ListNamespacesAsync()).Contains(name))
        {
            throw new InvalidOperationException($"Could not delete namespace {name}: {del.Describe()}");
        }
    }

    private static async Task SweepStaleOnceAsync()
    {
        await s_sweepGate.WaitAsync();
        try
        {
            if (!s_swept)
            {
                await SweepStaleAsync();
                s_swept = true;
            }
        }
        finally
        {
            s_sweepGate.Release();
        }
    }

    private static bool IsStale(string name)
    {
        Match m = OwnerPidRegex().Match(name);
        if (!m.Success || !int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
        {
            return false;
        }

        return pid != Environment.ProcessId && !ProcessRunner.IsAlive(pid);
    }

    private static void TryDeleteDirectory(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a later sweep retries.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static async Task IpAsync(params string[] args)
    {
        CommandResult r = await ProcessRunner.RunAsync("ip", args, s_setupTimeout);
        r.EnsureSuccess();
    }

    private static void ValidateInterfaceName(string name)
    {
        if (name.Length is 0 or > MaxInterfaceNameLength || name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c)))
        {
            throw new ArgumentException($"Interface name '{name}' must be 1-{MaxInterfaceNameLength} chars without '/', ':' or spaces.");
        }
    }

    // The network rule: test hosts use only documentation and private test ranges (and loopback).
    private static void EnsureTestPrefix(string addressOrCidr)
    {
        string text = addressOrCidr.Split('/')[0];
        if (!IPAddress.TryParse(text, out IPAddress? ip))
        {
            throw new ArgumentException($"Not an IP address: '{addressOrCidr}'.");
        }

        byte[] b = ip.GetAddressBytes();
        bool ok = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? b[0] == 10 || b[0] == 127 || (b[0] == 198 && b[1] == 51 && b[2] == 100) || (b[0] == 203 && b[1] == 0 && b[2] == 113)
            : b[0] == 0xfd || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) || ip.IsIPv6LinkLocal || IPAddress.IPv6Loopback.Equals(ip);
        if (!ok)
        {
            throw new ArgumentException(
                $"{addressOrCidr} is outside the test ranges (10/8, 198.51.100/24, 203.0.113/24, fd00::/8, 2001:db8::/32).");
        }
    }

    private void EnsureOwned(string netns)
    {
        lock (_gate)
        {
            if (!_namespaces.Contains(netns))
            {
                throw new ArgumentException($"Namespace '{netns}' was not made by this TestNet.", nameof(netns));
            }
        }
    }

    [GeneratedRegex("^[a-z0-9]{1,12}$")]
    private static partial Regex RoleRegex();

    [GeneratedRegex(@"^dnsw-t-(\d+)-")]
    private static partial Regex OwnerPidRegex();

    [GeneratedRegex(@"^[a-z0-9_.\-]+$")]
    private static partial Regex SysctlKeyRegex();

    [GeneratedRegex(@"^[0-9a-zA-Z_.\- ]+$")]
    private static partial Regex SysctlValueRegex();
}
