namespace DnsWarden.Export;

/// <summary>One batch as the spool holds it: the JSONEachRow bytes exactly as they are sent, and how many rows they are.</summary>
public sealed record SpoolBatch(long Sequence, ExportTable Table, int Rows, byte[] Payload, string Path);
