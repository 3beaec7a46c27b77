using System.Buffers;

namespace DnsWarden.Policy;

/// <summary>
/// Reads a resolver policy file (JSON, docs/RESOLVER.md) into a <see cref="ResolverPolicy"/>. Errors follow
/// <see cref="PolicyLoader"/>: a <see cref="PolicyError"/> with file:line:column and what was expected, never an exception.
/// </summary>
public static class ResolverPolicyLoader
{
    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    public static bool TryLoad(string path, out ResolverPolicy? policy, out PolicyError? error)
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
            buffer = ArrayPool<byte>.Shared.Rent(PolicyLoader.MaxFileBytes + 1);
            int total = 0;
            int read;
            while (total < PolicyLoader.MaxFileBytes + 1 && (read = stream.Read(buffer, total, PolicyLoader.MaxFileBytes + 1 - total)) > 0)
            {
                total += read;
            }

            return TryParse(buffer.AsSpan(0, total), file, out policy, out error);
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

    public static bool TryParse(ReadOnlySpan<byte> utf8Json, string fileName, out ResolverPolicy? policy, out PolicyError? error)
    {
        policy = null;
        string file = fileName ?? "";
        if (utf8Json.Length > PolicyLoader.MaxFileBytes)
        {
            error = new PolicyError(file, 0, 0, $"the file is {utf8Json.Length} bytes; a policy file is at most {PolicyLoader.MaxFileBytes} bytes (1 MiB)");
            return false;
        }

        ReadOnlySpan<byte> data = utf8Json.StartsWith(Utf8Bom) ? utf8Json[Utf8Bom.Length..] : utf8Json;
        if (!System.Text.Unicode.Utf8.IsValid(data))
        {
            int bad = 0;
            while (bad < data.Length && System.Text.Rune.DecodeFromUtf8(data[bad..], out _, out int n) == OperationStatus.Done)
            {
                bad += n;
            }

            error = PolicyLoader.At(file, data, bad, $"invalid UTF-8 (byte 0x{data[bad]:X2}); a policy file is UTF-8 text");
            return false;
        }

        if (data.TrimStart(" \t\r\n"u8).IsEmpty)
        {
            error = new PolicyError(file, 1, 1, "empty file (expected a JSON object such as { \"mode\": \"forward\" })");
            return false;
        }

        var reader = new ResolverPolicyReader(data, file);
        if (!reader.TryRead(out policy))
        {
            error = reader.Error;
            policy = null;
            return false;
        }

        error = null;
        return true;
    }
}
