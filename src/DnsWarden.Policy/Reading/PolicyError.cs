namespace DnsWarden.Policy;

/// <summary>Why a policy file was refused, and where: 1-based line and column (characters, not bytes); 0:0 when the file could not be read at all.</summary>
public sealed record PolicyError(string File, int Line, int Column, string Message)
{
    // Line 0: the file as a whole (missing, a directory, unreadable), not a place in it.
    public override string ToString() => Line > 0 ? $"{File}:{Line}:{Column}: {Message}" : File.Length > 0 ? $"{File}: {Message}" : Message;
}
