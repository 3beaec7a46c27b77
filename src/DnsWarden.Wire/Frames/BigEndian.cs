using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DnsWarden.Wire.Frames;

/// <summary>
/// Big-endian reads at offsets the caller has already bounds-checked. Debug builds (which the tests run)
/// go through checked span slices so that a missing length check shows up as an exception in tests;
/// release builds read without a second check to keep the per-packet path short.
/// </summary>
internal static class BigEndian
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte U8(ReadOnlySpan<byte> s, int offset)
    {
#if DEBUG
        return s[offset];
#else
        return Unsafe.Add(ref MemoryMarshal.GetReference(s), (nint)(uint)offset);
#endif
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort U16(ReadOnlySpan<byte> s, int offset)
    {
#if DEBUG
        return BinaryPrimitives.ReadUInt16BigEndian(s.Slice(offset, 2));
#else
        ushort v = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref MemoryMarshal.GetReference(s), (nint)(uint)offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;
#endif
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint U32(ReadOnlySpan<byte> s, int offset)
    {
#if DEBUG
        return BinaryPrimitives.ReadUInt32BigEndian(s.Slice(offset, 4));
#else
        uint v = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref MemoryMarshal.GetReference(s), (nint)(uint)offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;
#endif
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong U64(ReadOnlySpan<byte> s, int offset)
    {
#if DEBUG
        return BinaryPrimitives.ReadUInt64BigEndian(s.Slice(offset, 8));
#else
        ulong v = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref MemoryMarshal.GetReference(s), (nint)(uint)offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;
#endif
    }
}
