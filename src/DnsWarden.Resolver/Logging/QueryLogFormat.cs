namespace DnsWarden.Resolver.Logging;

/// <summary>The vocabulary of the query log's lines: dnsw's own JSON (docs/RESOLVER.md) or Elastic Common Schema (docs/ECS.md).</summary>
public enum QueryLogFormat : byte
{
    Json,
    Ecs,
}
