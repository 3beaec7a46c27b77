using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace DnsWarden.Export;

/// <summary>
/// A spool file: one text header line, then the batch's JSONEachRow bytes.
/// <code>dnsw-spool 1 TABLE ROWS BYTES SHA256-PREFIX\n…rows…</code>
/// TABLE is the kind (<c>leak_events</c>, <c>dns_queries</c>, <c>guard_decisions</c>), mapped to the configured
/// table when sent, so a corrected <c>--export-table</c> applies to what was spooled before. The checksum (the first
/// 16 hex digits of SHA-256 over the rows) tells a torn or damaged file from a good one; SHA-256 because the runtime
/// has it, and it runs once per batch, not per row.
/// </summary>
public static class SpoolFileFormat
{
    public const string Magic = "dnsw-spool";
    public const int Version = 1;

    /// <summary>A header is well under this; a longer first line is not a spool file.</summary>
    public const int MaxHeaderBytes = 256;

    public static string TableToken(ExportTable table) => table switch
    {
        ExportTable.LeakEvents => "leak_events",
        ExportTable.DnsQueries => "dns_queries",
        ExportTable.GuardDecisions => "guard_decisions",
        _ => throw new ArgumentOutOfRangeException(nameof(table)),
    };

    public static bool TryParseTableToken(ReadOnlySpan<char> token, out ExportTable table)
    {
        foreach (ExportTable t in Enum.GetValues<ExportTable>())
        {
            if (token.SequenceEqual(TableToken(t)))
            {
                table = t;
                return true;
            }
        }

        table = default;
        return false;
    }

    public static byte[] Header(ExportTable table, int rows, ReadOnlySpan<byte> payload) =>
        Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{Magic} {Version} {TableToken(table)} {rows} {payload.Length} {Checksum(payload)}\n"));

    public static string Checksum(ReadOnlySpan<byte> payload)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(payload, hash);
        return Convert.ToHexStringLower(hash[..8]);
    }

    /// <summary>
    /// Reads a whole spool file's bytes. False with one line saying where and what was wrong: the header's shape,
    /// a table it does not know, fewer or more bytes than it announced, a checksum that does not match.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> file, out ExportTable table, out int rows, out ReadOnlySpan<byte> payload, out string? error)
    {
        table = default;
        rows = 0;
        payload = default;
        int newline = file[..Math.Min(file.Length, MaxHeaderBytes)].IndexOf((byte)'\n');
        if (newline < 0)
        {
            error = file.Length == 0
                ? "empty file (expected a 'dnsw-spool 1 …' header line)"
                : file.Length < MaxHeaderBytes
                    ? string.Create(CultureInfo.InvariantCulture, $"at byte {file.Length}: the header line ends without a newline (truncated)")
                    : string.Create(CultureInfo.InvariantCulture, $"no newline in the first {MaxHeaderBytes} bytes (expected a 'dnsw-spool 1 …' header line)");
            return false;
        }

        string header = Encoding.ASCII.GetString(file[..newline]);
        string[] f = header.Split(' ');
        if (f.Length != 6 || f[0] != Magic)
        {
            error = $"header: expected '{Magic} {Version} TABLE ROWS BYTES CHECKSUM', got '{Printable(header)}'";
            return false;
        }

        if (f[1] != Version.ToString(CultureInfo.InvariantCulture))
        {
            error = $"header: version '{Printable(f[1])}' (this dnsw reads version {Version})";
            return false;
        }

        if (!TryParseTableToken(f[2], out table))
        {
            error = $"header: unknown table '{Printable(f[2])}' (expected leak_events, dns_queries or guard_decisions)";
            return false;
        }

        if (!int.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out rows) || rows < 1)
        {
            error = $"header: row count '{Printable(f[3])}' is not a positive number";
            return false;
        }

        if (!int.TryParse(f[4], NumberStyles.None, CultureInfo.InvariantCulture, out int length))
        {
            error = $"header: byte count '{Printable(f[4])}' is not a number";
            return false;
        }

        int start = newline + 1;
        int have = file.Length - start;
        if (have < length)
        {
            error = string.Create(CultureInfo.InvariantCulture, $"at byte {file.Length}: {have} bytes of rows where the header says {length} (truncated)");
            return false;
        }

        if (have > length)
        {
            error = string.Create(CultureInfo.InvariantCulture, $"at byte {start + length}: {have - length} bytes after the {length} the header announces");
            return false;
        }

        payload = file[start..];
        if (Checksum(payload) != f[5])
        {
            error = $"the rows do not match their checksum (header {Printable(f[5])}, rows {Checksum(payload)}): the file was damaged";
            return false;
        }

        error = null;
        return true;
    }

    private static string Printable(string text)
    {
        string cut = text.Length > 64 ? text[..64] + "…" : text;
        return string.Concat(cut.Select(c => c < 0x20 || c > 0x7e ? '?' : c));
    }
}
