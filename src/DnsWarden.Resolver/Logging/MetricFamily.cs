namespace DnsWarden.Resolver.Logging;

/// <summary>
/// A metric family contributed from outside the engine (e.g. the ClickHouse exporter's rows and spool), rendered
/// after the engine's own. <see cref="Type"/> is <c>counter</c> (the name ends in <c>_total</c>) or <c>gauge</c>.
/// </summary>
public sealed record MetricFamily(string Name, string Type, string Help, IReadOnlyList<MetricSample> Samples);
