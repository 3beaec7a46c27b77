using System.CommandLine;
using DnsWarden.Cli.Leak;
using DnsWarden.Cli.Jail;
using DnsWarden.Cli.Proxy;
using DnsWarden.Cli.Tun;

namespace DnsWarden.Cli;

public static class Program
{
    // Commands handle SIGINT/SIGTERM themselves so a watch can stop cleanly, write every event and its summary.
    public static Task<int> Main(string[] args) =>
        BuildRoot().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

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
        root.Subcommands.Add(TunCommand.Build());
        return root;
    }
}
