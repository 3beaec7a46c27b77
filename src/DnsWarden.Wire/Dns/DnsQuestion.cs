namespace DnsWarden.Wire.Dns;

/// <summary>One entry of the question section (RFC 1035 §4.1.2).</summary>
public readonly ref struct DnsQuestion
{
    public DnsQuestion(DnsName name, DnsType type, DnsClass @class)
    {
        Name = name;
        Type = type;
        Class = @class;
    }

    public DnsName Name { get; }

    public DnsType Type { get; }

    public DnsClass Class { get; }

    public override string ToString() => $"{Name.ToString()} {Class} {Type}";
}
