using System.Buffers;
using DnsWarden.Wire.Http2;

namespace DnsWarden.Fuzzing.Fuzzers;

/// <summary>
/// What the jail proxy reads of an intercepted HTTP/2 client: frame headers one after another, each HEADERS and
/// CONTINUATION fragment (padding and priority cut), and the header blocks decoded by one <see cref="HpackDecoder"/>
/// for the whole input, as a connection's context is.
/// </summary>
internal sealed class Http2FramesFuzzer : IFuzzer
{
    private const int MaxList = 4096;

    public string Name => "Http2Frames";

    public IReadOnlyList<byte[]> GetSeeds() =>
    [
        // HEADERS (END_STREAM | END_HEADERS) with RFC 7541 C.4.1's block, then C.4.2's on stream 3.
        Convert.FromHexString("000011010500000001828684418cf1e3c2e5f23a6ba0ab90f4ff00000c010500000003828684be5886a8eb10649cbf"),
        // Padded and with priority, then a CONTINUATION.
        Convert.FromHexString("00000a0128000000010280000000108286000000000109040000000184"),
        // A size update to 256, a literal with incremental indexing, then an index into the dynamic table.
        Convert.FromHexString("0000090105000000013fe1014001610162be"),
        // SETTINGS and DATA, which carry no header block.
        Convert.FromHexString("0000060400000000000002000000000000020001000000016869"),
    ];

    public void FuzzTarget(ReadOnlySpan<byte> bytes)
    {
        var decoder = new HpackDecoder(maxTableSize: 256, maxHeaderListSize: MaxList);
        var block = new ArrayBufferWriter<byte>();
        Span<byte> written = stackalloc byte[Http2FrameHeader.Size];
        while (Http2FrameHeader.TryRead(bytes, out Http2FrameHeader header))
        {
            FuzzAssert.True(header.Length is >= 0 and <= 0xFF_FFFF && header.StreamId >= 0, $"header {header}");
            FuzzAssert.True(header.TryWrite(written) && Http2FrameHeader.TryRead(written, out Http2FrameHeader reread) && reread == header, "header does not round-trip");

            int length = Math.Min(header.Length, bytes.Length - Http2FrameHeader.Size);
            ReadOnlySpan<byte> payload = bytes.Slice(Http2FrameHeader.Size, length);
            bytes = bytes[(Http2FrameHeader.Size + length)..];
            if (header.Type is not (Http2FrameType.Headers or Http2FrameType.Continuation))
            {
                continue;
            }

            if (!header.TryGetHeaderBlockFragment(payload, out Range fragment))
            {
                continue;
            }

            (int offset, int count) = fragment.GetOffsetAndLength(payload.Length);
            FuzzAssert.InRange(offset, count, payload.Length, "the header block fragment");
            block.Write(payload[fragment]);
            if (!header.Has(Http2FrameHeader.FlagEndHeaders))
            {
                continue;
            }

            var fields = new List<HpackField>();
            bool ok = decoder.TryDecode(block.WrittenSpan, fields, out HpackError error, out int at);
            FuzzAssert.True(ok == (error == HpackError.None), $"returned {ok} with {error}");
            FuzzAssert.True(ok ? at == -1 : at >= 0 && at < block.WrittenCount, $"error offset {at} of {block.WrittenCount}");
            FuzzAssert.True(fields.Sum(f => f.Size) <= MaxList, "a decoded list over the bound");
            FuzzAssert.True(decoder.TableSize <= decoder.MaxTableSize, $"table {decoder.TableSize} over {decoder.MaxTableSize}");
            if (ok)
            {
                // Re-encoded as the proxy forwards it, the list decodes to itself on a fresh context.
                var again = new ArrayBufferWriter<byte>();
                HpackEncoder.Encode(fields, again);
                var fresh = new List<HpackField>();
                FuzzAssert.True(new HpackDecoder(0, int.MaxValue).TryDecode(again.WrittenSpan, fresh, out _, out _) && fresh.SequenceEqual(fields), "re-encoded block differs");
            }
            else
            {
                // A connection whose tables are out of step ends; so does this input.
                return;
            }

            block.Clear();
        }
    }
}
