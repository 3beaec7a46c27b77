using DnsWarden.Wire.Ip;

namespace DnsWarden.Resolver.Tracking;

/// <summary>An address seen in an answer: the owner names it was seen under and when it stops counting.</summary>
public readonly record struct TrackedAddress(IpAddr Address, IReadOnlyList<string> Names, long ExpiresTicks);

/// <summary>Why an address left the tracker.</summary>
public enum TrackedAddressRemovalReason
{
    Expired,

    /// <summary>Its last name had more addresses than <see cref="IpTrackerOptions.MaxAddressesPerName"/>.</summary>
    NameCapExceeded,

    Cleared,
}

public sealed class TrackedAddressRemovedEventArgs : EventArgs
{
    public TrackedAddressRemovedEventArgs(TrackedAddress address, TrackedAddressRemovalReason reason)
    {
        Address = address;
        Reason = reason;
    }

    public TrackedAddress Address { get; }

    public TrackedAddressRemovalReason Reason { get; }
}
