namespace DnsWarden.Policy;

/// <summary>Why a policy file was refused, and where: 1-based line and column (characters, not bytes); 0:0 when the file could not be read at all.</summary>
public sealed record PolicyError(string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}
