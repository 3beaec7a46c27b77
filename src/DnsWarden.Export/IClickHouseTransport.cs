namespace DnsWarden.Export;

/// <summary>How batches reach the server (the HTTP interface; a stand-in in the exporter's unit tests).</summary>
public interface IClickHouseTransport : IDisposable
{
    /// <summary>Inserts JSONEachRow rows into <paramref name="table"/> (a configured name, already checked), synchronously.</summary>
    public InsertOutcome Insert(string table, ReadOnlyMemory<byte> rows, CancellationToken cancellationToken);
}
