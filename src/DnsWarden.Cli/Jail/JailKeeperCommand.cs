using System.CommandLine;
using DnsWarden.Guard.Jail;

namespace DnsWarden.Cli.Jail;

/// <summary>
/// <c>dnsw jail-keeper</c> (hidden): the root half of a <c>dnsw jail</c> run, started by it with its channel on this
/// process's standard input and output (<see cref="JailKeeper"/>). Not meant to be run by hand.
/// </summary>
internal static class JailKeeperCommand
{
    public static Command Build()
    {
        var jailId = new Option<int>("--jail-id") { Required = true };
        var commandPid = new Option<int>("--command-pid") { Required = true };
        var rawSets = new Option<bool>("--raw-sets");
        var command = new Command("jail-keeper", "The jail's root keeper (started by dnsw jail).")
        {
            jailId, commandPid, rawSets,
        };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            if (!OperatingSystem.IsLinux())
            {
                return ExitCodes.StartError;
            }

            using Stream input = Console.OpenStandardInput();
            using Stream output = Console.OpenStandardOutput();
            try
            {
                return JailKeeper.Run(
                    new JailKeeperOptions
                    {
                        JailId = parse.GetValue(jailId).ToString(System.Globalization.CultureInfo.InvariantCulture),
                        CommandPid = parse.GetValue(commandPid),
                        RawSets = parse.GetValue(rawSets),
                    },
                    input,
                    output,
                    Console.Error);
            }
            catch (Exception e) when (e is InvalidOperationException or IOException)
            {
                Console.Error.WriteLine($"dnsw jail-keeper: {e.Message}");
                return ExitCodes.StartError;
            }
        });
        return command;
    }
}
