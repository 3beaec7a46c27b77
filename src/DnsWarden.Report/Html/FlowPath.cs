namespace DnsWarden.Report.Html;

/// <summary>One path through the three columns of a flow diagram, with how many it carries.</summary>
public sealed record FlowPath(string First, string Second, string Third, long Value);
