namespace DnsWarden.Report.Html;

/// <summary>One column of a stacked timeline: when it starts and its counts by series.</summary>
public sealed record StackedColumn(DateTimeOffset Start, IReadOnlyDictionary<string, int> Counts);
