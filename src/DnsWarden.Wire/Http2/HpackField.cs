namespace DnsWarden.Wire.Http2;

/// <summary>One decoded header field. Names and values are octets (RFC 7541 §5.2); held as Latin-1 strings so every byte survives.</summary>
public readonly record struct HpackField(string Name, string Value)
{
    /// <summary>The field's size in the dynamic table (RFC 7541 §4.1): its octets plus 32.</summary>
    public int Size => Name.Length + Value.Length + 32;
}
