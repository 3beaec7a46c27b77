using System.Diagnostics;
using System.Runtime.Versioning;
using DnsWarden.Platform.Network;

namespace DnsWarden.Leak.Enrich;

/// <summary>
/// The interfaces of the calling thread's network namespace, read over rtnetlink (the reader <c>leak status</c> uses)
/// when the watch starts and again when a packet names an index or a name the table does not have — a container
/// started during the watch brings a new veth — at most once a second, so a stream of unknown indexes costs one
/// dump a second, not one per packet.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class KernelInterfaceTable : IInterfaceTable
{
    private static readonly long s_refreshTicks = Stopwatch.Frequency;

    private Dictionary<string, InterfaceFacts> _byName = [];
    private Dictionary<int, string> _byIndex = [];
    private long _readAt;

    private KernelInterfaceTable()
    {
    }

    public int Version { get; private set; }

    /// <summary>Reads the table; false with one line of explanation when rtnetlink cannot be read.</summary>
    public static bool TryRead(out KernelInterfaceTable? table, out string? error)
    {
        table = new KernelInterfaceTable();
        if (!table.Refresh(out error))
        {
            table = null;
            return false;
        }

        return true;
    }

    public InterfaceFacts? Find(string name)
    {
        if (_byName.TryGetValue(name, out InterfaceFacts? facts) || (RefreshDue() && Refresh(out _) && _byName.TryGetValue(name, out facts)))
        {
            return facts;
        }

        return null;
    }

    public string? NameOf(int index)
    {
        if (_byIndex.TryGetValue(index, out string? name) || (RefreshDue() && Refresh(out _) && _byIndex.TryGetValue(index, out name)))
        {
            return name;
        }

        return null;
    }

    private bool RefreshDue() => Stopwatch.GetTimestamp() - _readAt >= s_refreshTicks;

    private bool Refresh(out string? error)
    {
        _readAt = Stopwatch.GetTimestamp();
        if (!RtnetlinkClient.TryReadState(out NetworkState? state, out error))
        {
            return false;
        }

        _byName = InterfaceFacts.FromDump(state!.Links, state.Routes);
        _byIndex = state.Links.ToDictionary(l => l.Index, l => l.Name);
        Version++;
        return true;
    }
}
