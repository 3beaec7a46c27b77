namespace DnsWarden.Leak.Enrich;

/// <summary>What <see cref="KillSwitch.Judge"/> found, with the chains that drop and the holes.</summary>
public sealed record KillSwitchState(KillSwitchVerdict Verdict, IReadOnlyList<string> DroppedBy, IReadOnlyList<string> Gaps, IReadOnlyList<string> Exceptions, string? Error)
{
    public string VerdictName => Verdict switch
    {
        KillSwitchVerdict.On => "on",
        KillSwitchVerdict.Partial => "partial",
        KillSwitchVerdict.None => "none",
        _ => "unknown",
    };

    /// <summary>The status line: what is dropped, what is not, and what that means for Leak-A.</summary>
    public string Describe() => Verdict switch
    {
        KillSwitchVerdict.On => $"kill switch: on ({string.Join(", ", DroppedBy)} drops DNS 53/853 off loopback and tunnels, IPv4 and IPv6, UDP and TCP){ExceptionsText()}: Leak-A cannot happen from here",
        KillSwitchVerdict.Partial => $"kill switch: partial ({string.Join(", ", DroppedBy)}); not dropped: {string.Join(", ", Gaps)}{ExceptionsText()}: Leak-A can happen that way",
        KillSwitchVerdict.None => "kill switch: none (no nftables rule drops DNS 53/853 off loopback and tunnels): Leak-A can happen",
        _ => $"kill switch: unknown ({Error}): whether Leak-A can happen was not judged",
    };

    private string ExceptionsText() => Exceptions.Count == 0 ? "" : "; except " + string.Join(", ", Exceptions);
}
