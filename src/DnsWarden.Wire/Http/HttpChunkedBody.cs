namespace DnsWarden.Wire.Http;

/// <summary>Outcome of <see cref="HttpChunkedBody.Advance"/>.</summary>
public enum HttpBodyStatus : byte
{
    /// <summary>All of the input belongs to the body; more is to come.</summary>
    NeedMoreData = 0,

    /// <summary>The body ended within the input: what follows is the next request.</summary>
    Complete,

    /// <summary>Not chunked coding this proxy forwards (a bad size line, a missing CRLF, an over-long size).</summary>
    Malformed,
}

/// <summary>
/// Finds where a chunked request body ends (RFC 9112 §7.1) as bytes stream past, so a proxy can check the next
/// request on a kept-alive connection: chunk data is skipped in bulk, only the size lines, CRLFs and trailer lines are
/// walked a byte at a time. A mutable struct the caller keeps per connection; no allocation.
/// </summary>
public struct HttpChunkedBody
{
    /// <summary>A size line (digits and extensions) or a trailer line longer than this is refused: no client needs it.</summary>
    public const int MaxLineLength = 4096;

    private State _state;
    private long _remaining;
    private int _lineLength;
    private bool _sawDigit;

    private enum State : byte
    {
        Size,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerStart,
        Trailer,
        TrailerLf,
        FinalLf,
        Done,
    }

    /// <summary>Consumes body bytes from <paramref name="data"/>; <paramref name="consumed"/> is how many belong to the body.</summary>
    public HttpBodyStatus Advance(ReadOnlySpan<byte> data, out int consumed)
    {
        int i = 0;
        while (i < data.Length)
        {
            if (_state == State.Data)
            {
                int n = (int)Math.Min(_remaining, data.Length - i);
                i += n;
                _remaining -= n;
                if (_remaining == 0)
                {
                    _state = State.DataCr;
                }

                continue;
            }

            byte b = data[i++];
            if (++_lineLength > MaxLineLength)
            {
                consumed = i;
                return HttpBodyStatus.Malformed;
            }

            switch (_state)
            {
                case State.Size:
                    int digit = HexValue(b);
                    if (digit >= 0)
                    {
                        // 15 hex digits at most: the size stays far from overflow.
                        if (_remaining > (long.MaxValue >> 8))
                        {
                            consumed = i;
                            return HttpBodyStatus.Malformed;
                        }

                        _remaining = (_remaining << 4) | (uint)digit;
                        _sawDigit = true;
                    }
                    else if (_sawDigit && (b == ';' || b == ' ' || b == '\t'))
                    {
                        _state = State.Extension;
                    }
                    else if (_sawDigit && b == '\r')
                    {
                        _state = State.SizeLf;
                    }
                    else
                    {
                        consumed = i;
                        return HttpBodyStatus.Malformed;
                    }

                    break;
                case State.Extension:
                    if (b == '\r')
                    {
                        _state = State.SizeLf;
                    }
                    else if (b == '\n')
                    {
                        consumed = i;
                        return HttpBodyStatus.Malformed;
                    }

                    break;
                case State.SizeLf:
                    if (b != '\n')
                    {
                        consumed = i;
                        return HttpBodyStatus.Malformed;
                    }

                    _lineLength = 0;
                    _sawDigit = false;
                    _state = _remaining == 0 ? State.TrailerStart : State.Data;
                    break;
                case State.DataCr:
                    if (b != '\r')
                    {
                        consumed = i;
                        return HttpBodyStatus.Malformed;
                    }

                    _state = State.DataLf;
                    break;
                case State.DataLf:
                    if (b != '\n')
                    {
                        consumed = i;
                        return HttpBodyStatus.Malformed;
                    }

                    _lineLength = 0;
                    _state = State.Size;
                    break;
                case State.TrailerStart:
                    _state = b == '\r' ? State.FinalLf : b == '\n' ? State.Done : State.Trailer;
                    if (_state == State.Done)
                    {
                        consumed = i;
                        return HttpBodyStatus.Malformed;
                    }

                    break;
                case State.Trailer:
                    if (b == '\r')
                    {
                        _state = State.TrailerLf;
                    }
                    else if (b == '\n')
                    {
                        consumed = i;
                        return HttpBodyStatus.Malformed;
                    }

                    break;
                case State.TrailerLf:
                    if (b != '\n')
                    {
                        consumed = i;
                        return HttpBodyStatus.Malformed;
                    }

                    _lineLength = 0;
                    _state = State.TrailerStart;
                    break;
                case State.FinalLf:
                    if (b != '\n')
                    {
                        consumed = i;
                        return HttpBodyStatus.Malformed;
                    }

                    _state = State.Done;
                    consumed = i;
                    return HttpBodyStatus.Complete;
                default:
                    consumed = i - 1;
                    return HttpBodyStatus.Complete;
            }
        }

        consumed = i;
        return HttpBodyStatus.NeedMoreData;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
