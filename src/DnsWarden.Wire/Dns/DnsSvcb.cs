using System.Buffers.Binary;
using DnsWarden.Wire.Ip;

namespace DnsWarden.Wire.Dns;

/// <summary>SVCB / HTTPS RDATA (RFC 9460 §2.2): SvcPriority, TargetName, SvcParams.</summary>
public readonly ref struct DnsSvcb
{
    private DnsSvcb(ushort priority, DnsName target, DnsSvcParams parameters)
    {
        Priority = priority;
        Target = target;
        Params = parameters;
    }

    public ushort Priority { get; }

    /// <summary>RFC 9460 §2.4.2: priority 0 is AliasMode, where SvcParams are ignored.</summary>
    public bool IsAliasMode => Priority == 0;

    /// <summary>TargetName; "." means the owner name itself (RFC 9460 §2.5).</summary>
    public DnsName Target { get; }

    public DnsSvcParams Params { get; }

    public static bool TryRead(ReadOnlySpan<byte> message, int rdataOffset, int rdataLength, out DnsSvcb svcb, out DnsError error)
    {
        svcb = default;
        int end = rdataOffset + rdataLength;
        if (rdataLength < 3 || rdataOffset < 0 || end > message.Length)
        {
            error = DnsError.BadRdata;
            return false;
        }

        // RFC 9460 §2.2: TargetName is uncompressed.
        if (!DnsRdata.TryReadNameField(message, rdataOffset + 2, end, allowCompression: false, out DnsName target, out int consumed, out error))
        {
            return false;
        }

        int paramsAt = rdataOffset + 2 + consumed;
        if (!DnsSvcParams.TryRead(message.Slice(paramsAt, end - paramsAt), out DnsSvcParams parameters, out error))
        {
            return false;
        }

        svcb = new DnsSvcb(BinaryPrimitives.ReadUInt16BigEndian(message.Slice(rdataOffset)), target, parameters);
        return true;
    }
}

/// <summary>One SvcParam: key and raw value.</summary>
public readonly ref struct DnsSvcParam
{
    internal DnsSvcParam(SvcParamKey key, ReadOnlySpan<byte> value)
    {
        Key = key;
        Value = value;
    }

    public SvcParamKey Key { get; }

    public ReadOnlySpan<byte> Value { get; }
}

/// <summary>The SvcParams of an SVCB/HTTPS record, checked for order and for the layout of known keys.</summary>
public readonly ref struct DnsSvcParams
{
    /// <summary>RFC 9460 §2.2: SvcParamKey then SvcParamValue length, 16 bits each.</summary>
    private const int ParamHeaderLength = 4;
    private const int Ipv4Length = 4;
    private const int Ipv6Length = 16;

    private readonly ReadOnlySpan<byte> _data;

    private DnsSvcParams(ReadOnlySpan<byte> data, int count)
    {
        _data = data;
        Count = count;
    }

    public int Count { get; }

    public ReadOnlySpan<byte> RawData => _data;

    public bool HasNoDefaultAlpn => Contains(SvcParamKey.NoDefaultAlpn);

    /// <summary>Whether an Encrypted ClientHello config list is advertised (RFC 9460 §7.3, key 5).</summary>
    public bool HasEch => Contains(SvcParamKey.Ech);

    /// <summary>RFC 9460 §2.2: keys strictly increasing, values filling the RDATA exactly, known keys well-formed (§7).</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out DnsSvcParams parameters, out DnsError error)
    {
        parameters = default;
        int pos = 0;
        int count = 0;
        int previousKey = -1;
        while (pos < data.Length)
        {
            if (data.Length - pos < ParamHeaderLength)
            {
                error = DnsError.BadRdata;
                return false;
            }

            int key = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(pos));
            int length = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(pos + 2));
            if (data.Length - pos - ParamHeaderLength < length)
            {
                error = DnsError.BadRdata;
                return false;
            }

            if (key <= previousKey || !IsWellFormed((SvcParamKey)key, data.Slice(pos + ParamHeaderLength, length)))
            {
                error = DnsError.BadSvcParam;
                return false;
            }

            previousKey = key;
            pos += ParamHeaderLength + length;
            count++;
        }

        parameters = new DnsSvcParams(data, count);
        error = DnsError.None;
        return true;
    }

    public bool Contains(SvcParamKey key) => TryGetValue(key, out _);

    public bool TryGetValue(SvcParamKey key, out ReadOnlySpan<byte> value)
    {
        foreach (DnsSvcParam p in this)
        {
            if (p.Key == key)
            {
                value = p.Value;
                return true;
            }

            if (p.Key > key)
            {
                break;
            }
        }

        value = default;
        return false;
    }

    /// <summary>The alpn ids (RFC 9460 §7.1.1), e.g. "h2", "h3".</summary>
    public bool TryGetAlpn(out DnsCharacterStrings alpn)
    {
        alpn = default;
        return TryGetValue(SvcParamKey.Alpn, out ReadOnlySpan<byte> v) && DnsCharacterStrings.TryRead(v, allowEmptyStrings: false, out alpn, out _);
    }

    /// <summary>RFC 9460 §7.2.</summary>
    public bool TryGetPort(out ushort port)
    {
        port = 0;
        if (!TryGetValue(SvcParamKey.Port, out ReadOnlySpan<byte> v))
        {
            return false;
        }

        port = BinaryPrimitives.ReadUInt16BigEndian(v);
        return true;
    }

    /// <summary>RFC 9460 §7.3.</summary>
    public bool TryGetIpv4Hint(out DnsAddressList addresses)
    {
        addresses = TryGetValue(SvcParamKey.Ipv4Hint, out ReadOnlySpan<byte> v) ? new DnsAddressList(v, Ipv4Length) : default;
        return addresses.Count > 0;
    }

    /// <summary>RFC 9460 §7.3.</summary>
    public bool TryGetIpv6Hint(out DnsAddressList addresses)
    {
        addresses = TryGetValue(SvcParamKey.Ipv6Hint, out ReadOnlySpan<byte> v) ? new DnsAddressList(v, Ipv6Length) : default;
        return addresses.Count > 0;
    }

    /// <summary>The ECHConfigList octets (RFC 9460 §9, key 5).</summary>
    public bool TryGetEch(out ReadOnlySpan<byte> echConfigList) => TryGetValue(SvcParamKey.Ech, out echConfigList);

    public Enumerator GetEnumerator() => new(_data);

    private static bool IsWellFormed(SvcParamKey key, ReadOnlySpan<byte> value) => key switch
    {
        // §7.1.1: non-empty list of non-empty alpn-ids filling the value.
        SvcParamKey.Alpn => DnsCharacterStrings.TryRead(value, allowEmptyStrings: false, out _, out _),

        // §8: non-empty list of 16-bit keys.
        SvcParamKey.Mandatory => value.Length > 0 && value.Length % 2 == 0,

        // §7.1.1: no-default-alpn has an empty value.
        SvcParamKey.NoDefaultAlpn => value.IsEmpty,
        SvcParamKey.Port => value.Length == 2,
        SvcParamKey.Ipv4Hint => value.Length > 0 && value.Length % Ipv4Length == 0,
        SvcParamKey.Ipv6Hint => value.Length > 0 && value.Length % Ipv6Length == 0,
        _ => true,
    };

    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _position;
        private SvcParamKey _key;
        private ReadOnlySpan<byte> _value;

        internal Enumerator(ReadOnlySpan<byte> data)
        {
            _data = data;
            _position = 0;
            _key = default;
            _value = default;
        }

        public readonly DnsSvcParam Current => new(_key, _value);

        public bool MoveNext()
        {
            if (_position >= _data.Length)
            {
                return false;
            }

            _key = (SvcParamKey)BinaryPrimitives.ReadUInt16BigEndian(_data.Slice(_position));
            int length = BinaryPrimitives.ReadUInt16BigEndian(_data.Slice(_position + 2));
            _value = _data.Slice(_position + ParamHeaderLength, length);
            _position += ParamHeaderLength + length;
            return true;
        }
    }
}

/// <summary>A packed list of IPv4 (4-octet) or IPv6 (16-octet) addresses, as in ipv4hint/ipv6hint.</summary>
public readonly ref struct DnsAddressList
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly int _width;

    internal DnsAddressList(ReadOnlySpan<byte> data, int width)
    {
        _data = data;
        _width = width;
    }

    public int Count => _width == 0 ? 0 : _data.Length / _width;

    public IpAddr this[int index]
    {
        get
        {
            ReadOnlySpan<byte> a = _data.Slice(index * _width, _width);
            return _width == 4 ? IpAddr.FromV4(a) : IpAddr.FromV6(a);
        }
    }

    public Enumerator GetEnumerator() => new(this);

    public ref struct Enumerator
    {
        private readonly DnsAddressList _list;
        private int _index;

        internal Enumerator(DnsAddressList list)
        {
            _list = list;
            _index = -1;
        }

        public readonly IpAddr Current => _list[_index];

        public bool MoveNext() => ++_index < _list.Count;
    }
}
