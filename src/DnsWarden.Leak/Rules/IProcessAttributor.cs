using DnsWarden.Leak.Events;
using DnsWarden.Wire.Frames;

namespace DnsWarden.Leak.Rules;

/// <summary>
/// Names the process that owns a packet's socket (the spec's FlowOwnerProvider). Live capture plugs one in; a
/// capture file has no sockets to ask, so events from files carry <see cref="Attribution.FromFile"/>.
/// </summary>
public interface IProcessAttributor
{
    /// <summary>Called at packet time, on the capture thread, for the packet that is an event's evidence.</summary>
    public (ProcessInfo? Process, Attribution Attribution) Attribute(in FlowKey5 flow, long timestampNs);
}
