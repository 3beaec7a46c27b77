using System.CommandLine;
using System.CommandLine.Completions;

namespace DnsWarden.Cli.Install;

/// <summary>
/// The visible commands and options of the command line, walked once for the man pages and the shell completions,
/// so both say exactly what --help says.
/// </summary>
internal sealed record CommandNode(Command Command, IReadOnlyList<string> Path, IReadOnlyList<CommandNode> Children)
{
    /// <summary>"dnsw leak watch".</summary>
    public string FullName => string.Join(' ', Path);

    /// <summary>"leak_watch" ("root" for dnsw itself): a name shell code can use.</summary>
    public string Key => Path.Count == 1 ? "root" : string.Join('_', Path.Skip(1)).Replace('-', '_');

    public IEnumerable<Option> Options => Command.Options.Where(o => !o.Hidden);

    public static CommandNode Of(Command command, IReadOnlyList<string>? parent = null)
    {
        IReadOnlyList<string> path = parent is null ? ["dnsw"] : [.. parent, command.Name];
        return new CommandNode(command, path, [.. command.Subcommands.Where(c => !c.Hidden).Select(c => Of(c, path))]);
    }

    public IEnumerable<CommandNode> All()
    {
        yield return this;
        foreach (CommandNode child in Children)
        {
            foreach (CommandNode n in child.All())
            {
                yield return n;
            }
        }
    }

    /// <summary>Whether the option takes a value (every option but a flag does).</summary>
    public static bool TakesValue(Option option) => option.ValueType != typeof(bool);

    /// <summary>Whether the option's value is a path.</summary>
    public static bool TakesPath(Option option) =>
        option.ValueType == typeof(FileInfo) || option.ValueType == typeof(FileInfo[]) || option.ValueType == typeof(DirectoryInfo)
        || option.Name is "--out" or "--observations" or "--query-log" or "--write-pcap" or "--html" or "--report";

    /// <summary>The fixed values an option accepts (e.g. --privacy full|redacted|minimal), none when any value goes.</summary>
    public static IReadOnlyList<string> Values(Option option) =>
        TakesValue(option) ? [.. option.GetCompletions(CompletionContext.Empty).Select(c => c.Label)] : [];

    /// <summary>The placeholder shown for an option's value.</summary>
    public static string ValueName(Option option) =>
        option.HelpName ?? (TakesPath(option) ? "FILE" : Values(option) is { Count: > 0 } values ? string.Join('|', values) : "VALUE");
}
