namespace DnsWarden.Policy;

/// <summary>
/// Reads a policy file (JSON, docs/POLICY.md) into a <see cref="LeakPolicy"/>. Bad input of any kind — a missing file,
/// a directory, an oversized file, invalid UTF-8, broken JSON, an unknown key, a wrong type or value — gives a
/// <see cref="PolicyError"/> that points at the offending token, never an exception.
/// </summary>
public static class PolicyLoader
{
    /// <summary>The largest policy file read; a policy is a few kilobytes, so anything near this is a wrong path.</summary>
    public const int MaxFileBytes = PolicyFile.MaxFileBytes;

    public static bool TryLoad(string path, out LeakPolicy? policy, out PolicyError? error) =>
        PolicyFile.TryLoadFile(path, TryParse, out policy, out error);

    public static bool TryParse(ReadOnlySpan<byte> utf8Json, string fileName, out LeakPolicy? policy, out PolicyError? error)
    {
        policy = null;
        string file = fileName ?? "";
        if (!PolicyFile.TryPrepare(utf8Json, file, "{ \"version\": 1 }", out ReadOnlySpan<byte> data, out error))
        {
            return false;
        }

        var reader = new PolicyReader(data, file);
        return PolicyFile.Finish(ref reader, out policy, out error);
    }
}
