using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;

namespace DnsWarden.Cli;

/// <summary>
/// <c>--version</c> on every command, printing the program's name with it ("dnsw 1.0.0+abc123"), as GNU tools do;
/// System.CommandLine's own option is on the root only and prints the bare number.
/// </summary>
internal static class VersionFlag
{
    public static string Text { get; } =
        "dnsw " + (typeof(VersionFlag).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown");

    /// <summary>Replaces the root's version option and adds ours to every command below it.</summary>
    public static void AddTo(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        for (int i = root.Options.Count - 1; i >= 0; i--)
        {
            if (root.Options[i] is VersionOption)
            {
                root.Options.RemoveAt(i);
            }
        }

        Add(root);
    }

    private static void Add(Command command)
    {
        command.Options.Add(new Option<bool>("--version") { Description = "Show the program's name and version, then exit", Action = new PrintVersion() });
        foreach (Command sub in command.Subcommands)
        {
            Add(sub);
        }
    }

    /// <summary>The action of --version (also how Main tells it from a command line that did not parse).</summary>
    internal sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            ArgumentNullException.ThrowIfNull(parseResult);
            parseResult.InvocationConfiguration.Output.WriteLine(Text);
            return ExitCodes.Ok;
        }
    }
}
