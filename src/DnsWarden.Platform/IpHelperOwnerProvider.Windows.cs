using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Windows;

namespace DnsWarden.Platform;

/// <summary>Socket owners from the IP Helper owner-pid tables (GetExtendedTcpTable / GetExtendedUdpTable).</summary>
[SupportedOSPlatform("windows")]
public sealed class IpHelperOwnerProvider : IFlowOwnerProvider
{
    // Tables grow between the size query and the fetch; a few retries absorb that.
    private const int MaxAttempts = 4;

    private readonly List<SocketEntry> _entries = [];
    private readonly Lock _lock = new();

    public OwnerLookup Lookup(SocketProtocol protocol, IPAddress localAddress, ushort localPort, IPAddress remoteAddress, ushort remotePort)
    {
        try
        {
            lock (_lock)
            {
                return LookupCore(protocol, localAddress, localPort, remoteAddress, remotePort);
            }
        }
        catch (Exception ex)
        {
            return OwnerLookup.Unknown($"lookup failed: {ex.Message}");
        }
    }

    public void Dispose()
    {
    }

    private OwnerLookup LookupCore(SocketProtocol protocol, IPAddress localAddress, ushort localPort, IPAddress remoteAddress, ushort remotePort)
    {
        _entries.Clear();
        bool v4 = localAddress.AddressFamily == AddressFamily.InterNetwork || localAddress.IsIPv4MappedToIPv6;

        // An IPv4 flow may sit on a dual-mode IPv6 socket, so it looks in both tables.
        string? error = null;
        if (v4)
        {
            error = Fetch(protocol == SocketProtocol.Tcp ? IpHelperTableKind.Tcp4 : IpHelperTableKind.Udp4);
        }

        error ??= Fetch(protocol == SocketProtocol.Tcp ? IpHelperTableKind.Tcp6 : IpHelperTableKind.Udp6);
        if (error is not null)
        {
            return OwnerLookup.Unknown(error);
        }

        SocketMatch match = SocketMatcher.Match(_entries, protocol, localAddress, localPort, remoteAddress, remotePort);
        if (!match.Found)
        {
            return OwnerLookup.Unknown(match.Reason ?? OwnerReasons.SocketGone);
        }

        int pid = (int)_entries[match.Index].Owner;
        ProcessFacts? facts = Facts(pid);
        return facts is null
            ? OwnerLookup.Unknown(OwnerReasons.SocketGone)
            : new OwnerLookup(facts, match.Confidence, match.Reason) { Source = AttributionSource.IpHelper };
    }

    private unsafe string? Fetch(IpHelperTableKind kind)
    {
        bool tcp = kind is IpHelperTableKind.Tcp4 or IpHelperTableKind.Tcp6;
        uint family = kind is IpHelperTableKind.Tcp4 or IpHelperTableKind.Udp4 ? (uint)IpHlpApi.AfInet : IpHlpApi.AfInet6;
        uint size = 0;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            byte[]? rented = size == 0 ? null : ArrayPool<byte>.Shared.Rent((int)size);
            try
            {
                uint result;
                fixed (byte* p = rented)
                {
                    result = tcp
                        ? IpHlpApi.GetExtendedTcpTable(p, ref size, false, family, IpHlpApi.TcpTableOwnerPidAll, 0)
                        : IpHlpApi.GetExtendedUdpTable(p, ref size, false, family, IpHlpApi.UdpTableOwnerPid, 0);
                }

                if (result == IpHlpApi.ErrorInsufficientBuffer)
                {
                    continue;
                }

                if (result != IpHlpApi.NoError)
                {
                    return $"{(tcp ? "GetExtendedTcpTable" : "GetExtendedUdpTable")} failed with error {result}";
                }

                if (rented is null)
                {
                    return null;
                }

                return IpHelperTableParser.TryParse(rented.AsSpan(0, (int)size), kind, _entries)
                    ? null
                    : "IP Helper table shorter than its entry count";
            }
            finally
            {
                if (rented is not null)
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }
            }
        }

        return "IP Helper table kept growing while being read";
    }

    private static ProcessFacts? Facts(int pid)
    {
        try
        {
            using Process process = Process.GetProcessById(pid);
            string? exe = null;
            try
            {
                exe = process.MainModule?.FileName;
            }
            catch (Exception)
            {
                // Protected and system processes refuse module access; the name is still worth reporting.
            }

            return new ProcessFacts(pid, process.ProcessName, exe, null, null, []);
        }
        catch (Exception)
        {
            return null;
        }
    }
}
