namespace DnsWarden.Resolver.Logging;

/// <summary>One sample of a <see cref="MetricFamily"/>, with at most one label (escaped when rendered).</summary>
public readonly record struct MetricSample(string? LabelName, string? LabelValue, long Value);
