namespace DnsWarden.Export;

/// <summary>What the exporter has done so far (a snapshot).</summary>
public sealed record ExportStatistics(
    long RowsQueued,
    long RowsSent,
    long BatchesSent,
    long RowsDroppedQueueFull,
    long RowsDroppedSpoolFull,
    long RowsUnwritable,
    long SpoolRows,
    long SpoolBytes,
    int SpoolBatches,
    int SpoolCorrupt,
    string? LastProblem)
{
    public long RowsDropped => RowsDroppedQueueFull + RowsDroppedSpoolFull;
}
