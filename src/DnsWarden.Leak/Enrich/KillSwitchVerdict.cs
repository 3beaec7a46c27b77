namespace DnsWarden.Leak.Enrich;

/// <summary>Whether the firewall drops DNS that leaves off the safe path.</summary>
public enum KillSwitchVerdict
{
    /// <summary>Nothing drops it: plaintext DNS can leave by those interfaces (Leak-A can happen).</summary>
    None,

    /// <summary>Some of it is dropped (a family, a protocol, port 53 or 853, an interface), not all.</summary>
    Partial,

    /// <summary>Every probe is dropped: Leak-A cannot happen from this namespace, but through the exceptions named.</summary>
    On,

    /// <summary>The ruleset could not be read.</summary>
    Unknown,
}
