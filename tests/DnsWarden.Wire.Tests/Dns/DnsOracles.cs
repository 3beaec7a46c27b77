using System.Reflection;

namespace DnsWarden.Wire.Tests.Dns;

/// <summary>ARSoft.Tools.Net keeps its encoder internal; one reflected call gives the wire bytes of a message it builds.</summary>
internal static class ArsoftOracle
{
    private static readonly MethodInfo s_encode =
        typeof(ARSoft.Tools.Net.Dns.DnsMessageBase).GetMethod("Encode", BindingFlags.NonPublic | BindingFlags.Instance, Type.EmptyTypes)!;

    public static byte[] Encode(ARSoft.Tools.Net.Dns.DnsMessageBase message)
    {
        object raw = s_encode.Invoke(message, null)!;
        MethodInfo toSegment = raw.GetType().GetMethod("ToArraySegment", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)!;
        var segment = (ArraySegment<byte>)toSegment.Invoke(raw, [false])!;
        return segment.ToArray();
    }

    public static ARSoft.Tools.Net.Dns.DnsMessage Parse(ReadOnlySpan<byte> message) =>
        ARSoft.Tools.Net.Dns.DnsMessage.Parse(new ArraySegment<byte>(message.ToArray()));
}

/// <summary>
/// DnsClient parses responses in the internal DnsMessageHandler.GetResponseMessage(ArraySegment&lt;byte&gt;);
/// reached once through reflection on DnsUdpMessageHandler. Its result type is internal too, so
/// the sections are read through reflected properties.
/// </summary>
internal static class DnsClientOracle
{
    private static readonly Type s_handlerType = typeof(DnsClient.LookupClient).Assembly.GetType("DnsClient.DnsUdpMessageHandler", throwOnError: true)!;
    private static readonly object s_handler = Activator.CreateInstance(s_handlerType, nonPublic: true)!;
    private static readonly MethodInfo s_parse =
        s_handlerType.GetMethod("GetResponseMessage", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)!;

    public static Parsed Parse(byte[] message)
    {
        object response;
        try
        {
            response = s_parse.Invoke(s_handler, [new ArraySegment<byte>(message)])!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }

        T Get<T>(string name) => (T)response.GetType().GetProperty(name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(response)!;
        return new Parsed(
            Get<DnsClient.DnsResponseHeader>("Header"),
            Get<List<DnsClient.DnsQuestion>>("Questions"),
            Get<List<DnsClient.Protocol.DnsResourceRecord>>("Answers"),
            Get<List<DnsClient.Protocol.DnsResourceRecord>>("Authorities"),
            Get<List<DnsClient.Protocol.DnsResourceRecord>>("Additionals"));
    }

    internal sealed record Parsed(
        DnsClient.DnsResponseHeader Header,
        List<DnsClient.DnsQuestion> Questions,
        List<DnsClient.Protocol.DnsResourceRecord> Answers,
        List<DnsClient.Protocol.DnsResourceRecord> Authorities,
        List<DnsClient.Protocol.DnsResourceRecord> Additionals);
}
