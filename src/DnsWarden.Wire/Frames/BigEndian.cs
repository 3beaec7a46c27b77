using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DnsWarden.Wire.Frames;

/// <summary>
/// Big-endian reads at offsets the caller has already bounds-checked. Release builds (what ships, and what the
/// unit tests run) read without a second check to keep the per-packet path short. Debug builds and the
/// "Checked" configuration go through checked span slices, so a missing length check throws: scripts/test.sh
/// runs its fuzz pass on a Checked build of every reader (<see cref="WireBuild.BoundsChecked"/> says which).
/// </summary>
internal static class BigEndian
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte U8(ReadOnlySpan<byte> s, int offset)
    {
#if DEBUG || CHECKED
        return s[offset];
#else
        return Unsafe.Add(ref MemoryMarshal.GetReference(s), (nint)(uint)offset);
#endif
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort U16(ReadOnlySpan<byte> s, int offset)
    {
#if DEBUG || CHECKED
        return BinaryPrimitives.ReadUInt16BigEndian(s.Slice(offset, 2));
#else
        ushort v = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref MemoryMarshal.GetReference(s), (nint)(uint)offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;
#endif
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint U32(ReadOnlySpan<byte> s, int offset)
    {
#if DEBUG || CHECKED
        return BinaryPrimitives.ReadUInt32BigEndian(s.Slice(offset, 4));
#else
        uint v = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref MemoryMarshal.GetReference(s), (nint)(uint)offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;
#endif
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong U64(ReadOnlySpan<byte> s, int offset)
    {
#if DEBUG || CHECKED
        return BinaryPrimitives.ReadUInt64BigEndian(s.Slice(offset, 8));
#else
        ulong v = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref MemoryMarshal.GetReference(s), (nint)(uint)offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(v) : v;
#endif
    }
}
