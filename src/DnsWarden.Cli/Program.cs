using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using DnsWarden.Cli.Leak;
using DnsWarden.Cli.Jail;
using DnsWarden.Cli.Proxy;
using DnsWarden.Cli.Tun;

namespace DnsWarden.Cli;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        RootCommand root = BuildRoot();
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not (HelpAction or VersionFlag.PrintVersion))
        {
            // GNU style: one line saying what is wrong, then where to read more; not the whole help first.
            Console.Error.WriteLine($"dnsw: {OneLine(parse.Errors[0].Message)}");
            Console.Error.WriteLine($"Try '{CommandPath(parse.CommandResult)} --help' for more information.");
            return ExitCodes.Usage;
        }

        try
        {
            // Commands handle SIGINT/SIGTERM themselves so a watch can stop cleanly, write every event and its summary.
            return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false })
                .ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The last line of defence: a fault is reported as one line and its own status, never as a usage error.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Console.Error.WriteLine($"dnsw: internal error: {CliText.Describe(e)} ({e.GetType().Name}); this is a bug in dnsw");
            return ExitCodes.InternalError;
        }
    }

    /// <summary>
    /// A parser message on one line: System.CommandLine lists an option's allowed values one per line, tab-indented
    /// ("Must be one of:\n\t'full'\n\t'redacted'"), which becomes "Must be one of: 'full', 'redacted'".
    /// </summary>
    internal static string OneLine(string message)
    {
        string[] lines = message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length <= 1)
        {
            return message.Trim();
        }

        return lines[0] + " " + string.Join(", ", lines[1..]);
    }

    internal static RootCommand BuildRoot()
    {
        var root = new RootCommand("DnsWarden: see and stop DNS escaping its intended path.");
        var leak = new Command("leak", "Passive DNS leak detection: watch live interfaces or capture files.");
        leak.Subcommands.Add(WatchCommand.Build());
        leak.Subcommands.Add(ReportCommand.Build());
        leak.Subcommands.Add(StatusCommand.Build());
        root.Subcommands.Add(leak);
        root.Subcommands.Add(ProxyCommand.Build());
        root.Subcommands.Add(JailCommand.Build());
        root.Subcommands.Add(JailInitCommand.Build());
        root.Subcommands.Add(JailKeeperCommand.Build());
        root.Subcommands.Add(TunCommand.Build());
        root.Subcommands.Add(Install.InstallCommand.Build());
        VersionFlag.AddTo(root);
        return root;
    }

    /// <summary>"dnsw leak watch" for the command a parse ended in.</summary>
    private static string CommandPath(CommandResult command)
    {
        var names = new List<string>();
        for (CommandResult? c = command; c is not null; c = c.Parent as CommandResult)
        {
            names.Add(c.Parent is null ? "dnsw" : c.Command.Name);
        }

        names.Reverse();
        return string.Join(' ', names);
    }
}
