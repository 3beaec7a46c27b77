namespace DnsWarden.Export;

/// <summary>How an insert ended.</summary>
public enum InsertStatus : byte
{
    /// <summary>The server stored the batch.</summary>
    Stored,

    /// <summary>No answer: refused connection, reset, timeout. The batch stays spooled; retried soon.</summary>
    Unreachable,

    /// <summary>The server answered with an error (bad credentials, no such table, …). The batch stays spooled; retried slowly.</summary>
    Refused,
}

/// <summary>An insert's result with the server's own words when it refused.</summary>
public sealed record InsertOutcome(InsertStatus Status, string? Message = null, int? ServerCode = null)
{
    public static InsertOutcome Stored { get; } = new(InsertStatus.Stored);
}
