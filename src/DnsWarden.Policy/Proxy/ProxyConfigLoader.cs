namespace DnsWarden.Policy;

/// <summary>
/// Reads the DNS engine's configuration file (JSON, docs/RESOLVER.md "Configuration") into a <see cref="ProxyConfig"/>.
/// Errors follow <see cref="PolicyLoader"/>: a <see cref="PolicyError"/> with file:line:column and what was expected,
/// never an exception. A policy file the configuration names is read with <see cref="ResolverPolicyLoader"/> and its
/// errors name that file.
/// </summary>
public static class ProxyConfigLoader
{
    internal const string Example = "{ \"upstreams\": [\"udp://10.0.0.1\"] }";

    /// <summary>Reads <paramref name="path"/>; relative paths inside it (policy, ca_file) are taken from its directory.</summary>
    public static bool TryLoad(string path, out ProxyConfig? config, out PolicyError? error) => TryLoad(path, null, out config, out error);

    /// <summary>As <see cref="TryLoad(string, out ProxyConfig?, out PolicyError?)"/>; a key the file leaves out keeps <paramref name="defaults"/>' value.</summary>
    public static bool TryLoad(string path, ProxyConfig? defaults, out ProxyConfig? config, out PolicyError? error)
    {
        string? directory = null;
        if (!string.IsNullOrWhiteSpace(path))
        {
            try
            {
                directory = Path.GetDirectoryName(Path.GetFullPath(path));
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
            {
                // The file read below reports the bad path.
            }
        }

        return PolicyFile.TryLoadFile(
            path,
            (ReadOnlySpan<byte> utf8, string file, out ProxyConfig? c, out PolicyError? e) => TryParse(utf8, file, directory, defaults, out c, out e),
            out config,
            out error);
    }

    /// <param name="baseDirectory">Where relative paths in the file start from; null: the working directory.</param>
    public static bool TryParse(ReadOnlySpan<byte> utf8, string fileName, string? baseDirectory, out ProxyConfig? config, out PolicyError? error) =>
        TryParse(utf8, fileName, baseDirectory, null, out config, out error);

    /// <param name="defaults">What a key the file leaves out keeps (null: the proxy's defaults).</param>
    public static bool TryParse(ReadOnlySpan<byte> utf8, string fileName, string? baseDirectory, ProxyConfig? defaults, out ProxyConfig? config, out PolicyError? error)
    {
        config = null;
        string file = fileName ?? "";
        if (!PolicyFile.TryPrepare(utf8, file, Example, out ReadOnlySpan<byte> data, out error))
        {
            return false;
        }

        var reader = new ProxyConfigReader(data, file, baseDirectory, defaults);
        return PolicyFile.Finish(ref reader, out config, out error);
    }
}
