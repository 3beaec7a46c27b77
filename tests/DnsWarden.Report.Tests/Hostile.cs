namespace DnsWarden.Report.Tests;

/// <summary>Strings an attacker controls (query names, process names, interface names in a crafted capture) that must arrive as text.</summary>
internal static class Hostile
{
    public const string ScriptName = "</script><script>document.title='pwned'</script>.evil.test";

    public const string AttributeBreak = "\"onmouseover=\"document.title='pwned'\" x=\"";

    public const string ImageTag = "<img src=x onerror=\"document.title='pwned'\">";

    public const string Comment = "--><!--";

    public static IReadOnlyList<string> All { get; } = [ScriptName, AttributeBreak, ImageTag, Comment];
}
