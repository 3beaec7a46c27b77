namespace DnsWarden.Wire.Http;

/// <summary>Outcome of <see cref="HttpRequestHead.TryRead"/>.</summary>
public enum HttpHeadStatus : byte
{
    /// <summary>A valid prefix of a head; call again with more bytes.</summary>
    NeedMoreData = 0,

    /// <summary>The whole head, up to and including its empty line, was read.</summary>
    Complete,

    /// <summary>Not a request head this proxy forwards; <see cref="HttpHeadError"/> says why.</summary>
    Malformed,
}
