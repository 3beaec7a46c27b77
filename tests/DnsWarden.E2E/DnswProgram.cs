namespace DnsWarden.E2E;

/// <summary>
/// How the tests start dnsw: the native binary named by DNSW_BINARY when it is set (scripts/test.sh publishes the
/// same native build <c>./dnsw</c> ships and points this at it), else <c>dotnet dnsw.dll</c> from the test output.
/// </summary>
internal static class DnswProgram
{
    private static readonly string? s_native = NativeBinary();

    /// <summary>Whether the tests drive the native build (DNSW_BINARY), as scripts/test.sh does.</summary>
    public static bool IsNative => s_native is not null;

    /// <summary>The program to start.</summary>
    public static string Program => s_native ?? "dotnet";

    /// <summary>The arguments that come before dnsw's own (the assembly for <c>dotnet</c>, none for the native binary).</summary>
    public static IReadOnlyList<string> Prefix { get; } = s_native is null ? [Path.Combine(AppContext.BaseDirectory, "dnsw.dll")] : [];

    private static string? NativeBinary()
    {
        string? path = Environment.GetEnvironmentVariable("DNSW_BINARY");
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        return File.Exists(path) ? Path.GetFullPath(path) : throw new FileNotFoundException("DNSW_BINARY names no file", path);
    }
}
