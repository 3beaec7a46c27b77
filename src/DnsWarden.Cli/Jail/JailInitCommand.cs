using System.CommandLine;
using DnsWarden.Guard.Jail;

namespace DnsWarden.Cli.Jail;

/// <summary>
/// <c>dnsw jail-init</c> (hidden): the jail's pid 1, started by <c>dnsw jail</c> itself inside the jail's namespaces
/// (<see cref="JailInit"/>). Not meant to be run by hand; it refuses to run unless it is pid 1.
/// </summary>
internal static class JailInitCommand
{
    public static Command Build()
    {
        var uid = new Option<int>("--uid") { Required = true };
        var gid = new Option<int>("--gid") { Required = true };
        var userName = new Option<string>("--user-name") { Required = true };
        var home = new Option<string>("--home") { Required = true };
        var shell = new Option<string>("--shell") { Required = true };
        var watchFd = new Option<int>("--watch-fd") { DefaultValueFactory = _ => -1 };
        var writable = new Option<string[]>("--writable") { Arity = ArgumentArity.ZeroOrMore };
        var trustDir = new Option<string?>("--trust-dir");
        var commandLine = new Argument<string[]>("command") { Arity = ArgumentArity.OneOrMore };
        var command = new Command("jail-init", "The jail's init (started by dnsw jail).")
        {
            uid, gid, userName, home, shell, watchFd, writable, trustDir, commandLine,
        };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            if (!OperatingSystem.IsLinux())
            {
                return ExitCodes.StartError;
            }

            return JailInit.Run(
                new JailInitOptions
                {
                    Uid = parse.GetValue(uid),
                    Gid = parse.GetValue(gid),
                    UserName = parse.GetValue(userName)!,
                    Home = parse.GetValue(home)!,
                    Shell = parse.GetValue(shell)!,
                    WatchDescriptor = parse.GetValue(watchFd),
                    Writable = parse.GetValue(writable) ?? [],
                    TrustDirectory = parse.GetValue(trustDir),
                    Command = parse.GetValue(commandLine) ?? [],
                },
                Console.Error);
        });
        return command;
    }

    /// <summary>How to start this very program again: the native binary, or the host and the assembly of a framework build.</summary>
    public static IReadOnlyList<string> SelfCommand()
    {
        string process = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this program's path");
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, Path.Combine(AppContext.BaseDirectory, "dnsw.dll")]
            : [process];
    }
}
