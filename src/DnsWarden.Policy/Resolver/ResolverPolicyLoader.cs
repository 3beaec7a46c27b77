namespace DnsWarden.Policy;

/// <summary>
/// Reads a resolver policy file (JSON, docs/RESOLVER.md) into a <see cref="ResolverPolicy"/>. Errors follow
/// <see cref="PolicyLoader"/>: a <see cref="PolicyError"/> with file:line:column and what was expected, never an exception.
/// </summary>
public static class ResolverPolicyLoader
{
    public static bool TryLoad(string path, out ResolverPolicy? policy, out PolicyError? error) =>
        PolicyFile.TryLoadFile(path, TryParse, out policy, out error);

    public static bool TryParse(ReadOnlySpan<byte> utf8Json, string fileName, out ResolverPolicy? policy, out PolicyError? error)
    {
        policy = null;
        string file = fileName ?? "";
        if (!PolicyFile.TryPrepare(utf8Json, file, "{ \"mode\": \"forward\" }", out ReadOnlySpan<byte> data, out error))
        {
            return false;
        }

        var reader = new ResolverPolicyReader(data, file);
        return PolicyFile.Finish(ref reader, out policy, out error);
    }
}
