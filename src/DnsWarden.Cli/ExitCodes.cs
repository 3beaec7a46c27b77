namespace DnsWarden.Cli;

/// <summary>Exit statuses shared by every command (documented in README).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The command line did not parse (System.CommandLine's own status).</summary>
    public const int Usage = 1;

    /// <summary>The run completed and found leaks (any event): for scripts and CI.</summary>
    public const int LeaksFound = 2;

    /// <summary>A capture file could not be read to its end: truncated, garbage, or missing. Everything before the fault was processed.</summary>
    public const int InputError = 3;

    /// <summary>Live capture could not start: no permission, no such interface, libpcap missing.</summary>
    public const int CaptureError = 4;

    /// <summary>A service could not start: <c>dnsw proxy</c> could not bind a listen or metrics address (in use, no permission).</summary>
    public const int StartError = 4;

    /// <summary>The jail's own failure before the command ran (as <c>env</c> and <c>timeout</c> use it): e.g. a broken --ca-cert.</summary>
    public const int JailError = 125;

    /// <summary>A fault in dnsw itself (an exception no command expected): never reported as a usage error. BSD's EX_SOFTWARE.</summary>
    public const int InternalError = 70;
}
