using System.Net;

namespace DnsWarden.Indicators;

/// <summary>An endpoint in ECS's terms: the raw <c>address</c>, and <c>ip</c>/<c>port</c> when the text held them.</summary>
public readonly record struct EcsEndpoint(string Address, IPAddress? Ip, int? Port);
