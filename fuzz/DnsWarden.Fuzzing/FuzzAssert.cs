using System.Diagnostics.CodeAnalysis;

namespace DnsWarden.Fuzzing;

/// <summary>Thrown when a reader broke one of its invariants (as opposed to an exception escaping from it).</summary>
internal sealed class FuzzInvariantException : Exception
{
    public FuzzInvariantException()
    {
    }

    public FuzzInvariantException(string message)
        : base(message)
    {
    }

    public FuzzInvariantException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

internal static class FuzzAssert
{
    public static void True([DoesNotReturnIf(false)] bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(message);
        }
    }

    /// <summary>[offset, offset + length) lies inside a buffer of <paramref name="total"/> bytes.</summary>
    public static void InRange(int offset, int length, int total, string what)
    {
        if (offset < 0 || length < 0 || offset > total || length > total - offset)
        {
            throw new FuzzInvariantException($"{what}: [{offset}, +{length}) outside the {total}-byte input");
        }
    }
}
