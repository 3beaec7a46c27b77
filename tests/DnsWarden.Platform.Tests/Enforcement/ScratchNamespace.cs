using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using DnsWarden.Platform.Enforcement;

namespace DnsWarden.Platform.Tests.Enforcement;

/// <summary>
/// A throwaway network namespace, <c>dnsw-t-ROLE-PID-N</c>, made in-process and removed on Dispose even when the test
/// failed. Everything a test changes lives in one of these; the root namespace is only ever read.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class ScratchNamespace : IDisposable
{
    private static int s_counter;

    private ScratchNamespace(string name) => Name = name;

    public string Name { get; }

    public static ScratchNamespace Create(string role)
    {
        string name = string.Create(CultureInfo.InvariantCulture, $"dnsw-t-{role}-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}");
        NetworkNamespace.Create(name);
        return new ScratchNamespace(name);
    }

    /// <summary>A unique name for a scratch namespace made some other way (by ip), for the caller to remove.</summary>
    public static string NewName(string role) =>
        string.Create(CultureInfo.InvariantCulture, $"dnsw-t-{role}-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}");

    /// <summary>Opens an rtnetlink socket inside the namespace and runs <paramref name="work"/> with it, on the namespace's thread.</summary>
    public Task<T> WithSocketAsync<T>(Func<RtnetlinkSocket, T> work) => NetworkNamespace.RunAsync(Name, () =>
    {
        using RtnetlinkSocket socket = RtnetlinkSocket.Open();
        return work(socket);
    });

    /// <summary><c>ip -j -n NS ARGS</c> parsed; the JSON array ip prints.</summary>
    public JsonElement IpJson(params string[] args) => HostTool.IpJson(["-n", Name, .. args]);

    public void Dispose() => NetworkNamespace.Delete(Name);
}

/// <summary>Runs host tools (ip) for the tests' checks.</summary>
internal static class HostTool
{
    public static string? SkipReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces are Linux only";
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return "needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to make network namespaces; CI runs as root";
        }

        return File.Exists("/usr/sbin/ip") || File.Exists("/sbin/ip") || File.Exists("/usr/bin/ip") || File.Exists("/bin/ip")
            ? null
            : "iproute2 (ip) is not installed";
    }

    public static (int ExitCode, string StdOut, string StdErr) Run(string file, IEnumerable<string> args, string? input = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using Process p = Process.Start(start)!;
        if (input is not null)
        {
            p.StandardInput.Write(input);
            p.StandardInput.Close();
        }

        using StreamReader stderrReader = p.StandardError;
        using StreamReader stdoutReader = p.StandardOutput;
        Task<string> stderr = stderrReader.ReadToEndAsync();
        string stdout = stdoutReader.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, stderr.GetAwaiter().GetResult());
    }

    public static string RunOk(string file, IEnumerable<string> args, string? input = null)
    {
        (int code, string stdout, string stderr) = Run(file, args, input);
        Assert.True(code == 0, $"{file} {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }

    public static JsonElement IpJson(IEnumerable<string> args)
    {
        string text = RunOk("ip", ["-j", .. args]);
        using JsonDocument doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(text) ? "[]" : text);
        return doc.RootElement.Clone();
    }

    public static IEnumerable<string> Names(JsonElement links) => links.EnumerateArray().Select(l => l.GetProperty("ifname").GetString()!);
}
