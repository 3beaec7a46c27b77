// TEMPORARY STUB (removed when the loader lands)
namespace DnsWarden.Policy;

public sealed record PolicyError(string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}

public static class PolicyLoader
{
    public static bool TryLoad(string path, out LeakPolicy? policy, out PolicyError? error)
    {
        policy = null;
        error = new PolicyError(path, 0, 0, "policy files are not supported yet");
        return false;
    }
}
