namespace DnsWarden.Wire.Quic;

/// <summary>Progress of a <see cref="QuicCryptoAssembler"/>.</summary>
public enum QuicCryptoStatus : byte
{
    NeedMoreData = 0,

    /// <summary>The ClientHello is complete; see <see cref="QuicCryptoAssembler.TryGetClientHello"/>.</summary>
    Complete,

    /// <summary>Data beyond the capacity, or a ClientHello declaring more than the capacity.</summary>
    TooLarge,

    /// <summary>The stream does not start with a ClientHello, or a CRYPTO frame was malformed.</summary>
    Malformed,
}

/// <summary>
/// Collects the Initial-level CRYPTO stream of one QUIC connection (RFC 9000 §19.6) from frames arriving out of
/// order, duplicated, or spread over several Initial packets, until the first handshake message (the ClientHello)
/// is whole. Bounded: one buffer of the given capacity, allocated once per connection. Keeping one per DCID, and
/// evicting them, is the caller's job.
/// </summary>
public sealed class QuicCryptoAssembler
{
    /// <summary>Enough for ClientHellos with post-quantum key shares and large PSK identities.</summary>
    public const int DefaultCapacity = 16 * 1024;

    private const int HandshakeHeaderLength = 4;
    private const byte HandshakeTypeClientHello = 1;

    private readonly byte[] _buffer;
    private readonly ulong[] _received;
    private int _contiguous;
    private int _messageLength = -1;
    private QuicCryptoStatus _status;

    public QuicCryptoAssembler(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, HandshakeHeaderLength);
        _buffer = new byte[capacity];
        _received = new ulong[(capacity + 63) / 64];
    }

    public int Capacity => _buffer.Length;

    /// <summary>Bytes of the crypto stream held without a gap from offset 0.</summary>
    public int ContiguousLength => _contiguous;

    /// <summary>The ClientHello's full length (header included) once its header has arrived; otherwise -1.</summary>
    public int MessageLength => _messageLength;

    public QuicCryptoStatus Status => _status;

    /// <summary>
    /// Adds one CRYPTO frame's data. Overlapping data is written again (RFC 9000 §19.6 requires it to be identical);
    /// data past the end of the ClientHello but within capacity is kept and ignored.
    /// </summary>
    public QuicCryptoStatus Add(ulong offset, ReadOnlySpan<byte> data)
    {
        if (_status is QuicCryptoStatus.Complete or QuicCryptoStatus.Malformed)
        {
            return _status;
        }

        if (data.IsEmpty)
        {
            return _status;
        }

        if (offset >= (ulong)_buffer.Length || (ulong)_buffer.Length - offset < (ulong)data.Length)
        {
            // Bytes past what this observer will hold; whatever fits before the limit is kept.
            if (offset < (ulong)_buffer.Length)
            {
                Store((int)offset, data.Slice(0, _buffer.Length - (int)offset));
            }

            Advance();
            if (_status == QuicCryptoStatus.NeedMoreData && (_messageLength < 0 || (ulong)_messageLength > offset))
            {
                _status = QuicCryptoStatus.TooLarge;
            }

            return _status;
        }

        Store((int)offset, data);
        Advance();
        return _status;
    }

    /// <summary>Adds every CRYPTO frame of a decrypted Initial payload (see <see cref="QuicInitialDecryptor"/>).</summary>
    public QuicCryptoStatus AddFrames(ReadOnlySpan<byte> payload)
    {
        var reader = new QuicFrameReader(payload);
        while (reader.TryReadNext(out QuicFrame frame))
        {
            if (frame.Type == QuicFrameType.Crypto)
            {
                Add(frame.CryptoOffset, frame.GetData(payload));
            }
        }

        if (reader.Error == QuicError.MalformedFrame && _status == QuicCryptoStatus.NeedMoreData)
        {
            _status = QuicCryptoStatus.Malformed;
        }

        return _status;
    }

    /// <summary>The whole ClientHello handshake message, ready for <c>TlsClientHello.TryRead</c>.</summary>
    public bool TryGetClientHello(out ReadOnlySpan<byte> message)
    {
        if (_status == QuicCryptoStatus.Complete)
        {
            message = _buffer.AsSpan(0, _messageLength);
            return true;
        }

        message = default;
        return false;
    }

    public void Reset()
    {
        Array.Clear(_received);
        _contiguous = 0;
        _messageLength = -1;
        _status = QuicCryptoStatus.NeedMoreData;
    }

    private void Store(int offset, ReadOnlySpan<byte> data)
    {
        data.CopyTo(_buffer.AsSpan(offset));
        int end = offset + data.Length;
        for (int i = offset; i < end;)
        {
            int word = i >> 6;
            int bit = i & 63;
            int take = Math.Min(64 - bit, end - i);
            ulong bits = take == 64 ? ulong.MaxValue : ((1UL << take) - 1) << bit;
            _received[word] |= bits;
            i += take;
        }
    }

    private void Advance()
    {
        while (_contiguous < _buffer.Length)
        {
            int word = _contiguous >> 6;
            ulong missing = ~_received[word] >> (_contiguous & 63);
            if (missing == 0)
            {
                _contiguous = Math.Min(_buffer.Length, (word + 1) << 6);
                continue;
            }

            _contiguous = Math.Min(_buffer.Length, _contiguous + System.Numerics.BitOperations.TrailingZeroCount(missing));
            break;
        }

        if (_messageLength < 0 && _contiguous >= 1 && _buffer[0] != HandshakeTypeClientHello)
        {
            _status = QuicCryptoStatus.Malformed;
            return;
        }

        if (_messageLength < 0 && _contiguous >= HandshakeHeaderLength)
        {
            _messageLength = HandshakeHeaderLength + ((_buffer[1] << 16) | (_buffer[2] << 8) | _buffer[3]);
            if (_messageLength > _buffer.Length)
            {
                _status = QuicCryptoStatus.TooLarge;
                return;
            }
        }

        if (_messageLength >= 0 && _contiguous >= _messageLength)
        {
            _status = QuicCryptoStatus.Complete;
        }
    }
}
