namespace DnsWarden.Report.Html;

/// <summary>One bar of a bar list: a label, a count, and the CSS class that colours it.</summary>
public sealed record BarItem(string Label, long Value, string Class = "bar");
