using System.Buffers;
using System.Text;
using System.Text.Json;

namespace DnsWarden.Policy;

/// <summary>
/// What every file of the Policy project gets before and around its reader — the leak policy, the resolver policy and
/// the engine configuration alike: a bounded read that refuses special files, the size, BOM, UTF-8 and blank checks,
/// and errors placed at a byte offset as <c>file:line:column</c>.
/// </summary>
internal static class PolicyFile
{
    /// <summary>The largest policy file read; a policy is a few kilobytes, so anything near this is a wrong path.</summary>
    public const int MaxFileBytes = 1024 * 1024;

    /// <summary>Nesting allowed in the reader; the schema needs five levels, the rest is headroom for a clear error.</summary>
    internal const int MaxDepth = 32;

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>A parser of one kind of policy file (leak policy, resolver policy).</summary>
    internal delegate bool Parser<T>(ReadOnlySpan<byte> utf8Json, string fileName, out T? policy, out PolicyError? error)
        where T : class;

    /// <summary>What every parser ends with: the reader's value, or its error and no value.</summary>
    internal static bool Finish<TReader, T>(scoped ref TReader reader, out T? value, out PolicyError? error)
        where TReader : IPolicyFileReader<T>, allows ref struct
        where T : class
    {
        if (reader.TryRead(out value))
        {
            error = null;
            return true;
        }

        error = reader.Error;
        value = null;
        return false;
    }

    /// <summary>Reads a policy file of any kind (bounded, special files refused) and hands its bytes to the parser.</summary>
    internal static bool TryLoadFile<T>(string path, Parser<T> parse, out T? policy, out PolicyError? error)
        where T : class
    {
        policy = null;
        string file = path ?? "";
        if (string.IsNullOrWhiteSpace(path))
        {
            error = new PolicyError(file, 0, 0, "no policy file named (expected a path)");
            return false;
        }

        byte[]? buffer = null;
        try
        {
            if (Directory.Exists(path))
            {
                error = new PolicyError(file, 0, 0, "is a directory, not a policy file");
                return false;
            }

            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
            if (stream.CanSeek && stream.Length > MaxFileBytes)
            {
                error = TooLarge(file, stream.Length);
                return false;
            }

            // Read one byte past the limit: special files (/dev/zero, pipes) report no length.
            buffer = ArrayPool<byte>.Shared.Rent(MaxFileBytes + 1);
            int total = 0;
            int read;
            while (total < MaxFileBytes + 1 && (read = stream.Read(buffer, total, MaxFileBytes + 1 - total)) > 0)
            {
                total += read;
            }

            if (total > MaxFileBytes)
            {
                error = TooLarge(file, total);
                return false;
            }

            return parse(buffer.AsSpan(0, total), file, out policy, out error);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            error = new PolicyError(file, 0, 0, "no such file");
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            error = new PolicyError(file, 0, 0, "permission denied");
            return false;
        }
        catch (Exception e) when (e is IOException or ArgumentException or NotSupportedException)
        {
            error = new PolicyError(file, 0, 0, "cannot read the file: " + e.Message);
            return false;
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>An error at a byte offset of <paramref name="data"/>: the line counts <c>\n</c>, the column counts characters.</summary>
    internal static PolicyError At(string file, ReadOnlySpan<byte> data, long offset, string message)
    {
        int end = (int)Math.Clamp(offset, 0, data.Length);
        ReadOnlySpan<byte> before = data[..end];
        int line = before.Count((byte)'\n') + 1;
        int lineStart = before.LastIndexOf((byte)'\n') + 1;
        int column = 1;
        foreach (byte b in before[lineStart..])
        {
            // Every byte but a UTF-8 continuation byte starts a character.
            if ((b & 0xC0) != 0x80)
            {
                column++;
            }
        }

        return new PolicyError(file, line, column, message);
    }

    /// <summary>The byte offset a reader exception names (0-based line and byte in line).</summary>
    internal static long OffsetOf(ReadOnlySpan<byte> data, JsonException e)
    {
        long line = e.LineNumber ?? 0;
        int start = 0;
        for (long i = 0; i < line; i++)
        {
            int nl = data[start..].IndexOf((byte)'\n');
            if (nl < 0)
            {
                return data.Length;
            }

            start += nl + 1;
        }

        return start + (e.BytePositionInLine ?? 0);
    }

    /// <summary>The checks every policy file gets before its JSON is read: size, BOM, UTF-8, not blank.</summary>
    internal static bool TryPrepare(ReadOnlySpan<byte> utf8Json, string file, string example, out ReadOnlySpan<byte> data, out PolicyError? error)
    {
        data = default;
        error = null;
        if (utf8Json.Length > MaxFileBytes)
        {
            error = TooLarge(file, utf8Json.Length);
            return false;
        }

        data = utf8Json.StartsWith(Utf8Bom) ? utf8Json[Utf8Bom.Length..] : utf8Json;
        if (!System.Text.Unicode.Utf8.IsValid(data))
        {
            int bad = FirstInvalidUtf8(data);
            error = At(file, data, bad, $"invalid UTF-8 (byte 0x{data[bad]:X2}); a policy file is UTF-8 text");
            return false;
        }

        if (IsBlank(data))
        {
            error = new PolicyError(file, 1, 1, $"empty file (expected a JSON object such as {example})");
            return false;
        }

        return true;
    }

    private static PolicyError TooLarge(string file, long length) =>
        new(file, 0, 0, $"the file is {length} bytes; a policy file is at most {MaxFileBytes} bytes (1 MiB)");

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> data)
    {
        int i = 0;
        while (i < data.Length)
        {
            if (Rune.DecodeFromUtf8(data[i..], out _, out int consumed) != OperationStatus.Done)
            {
                return i;
            }

            i += consumed;
        }

        return data.Length;
    }

    private static bool IsBlank(ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false;
            }
        }

        return true;
    }
}
