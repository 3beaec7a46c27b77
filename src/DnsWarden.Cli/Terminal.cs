using System.Globalization;
using Spectre.Console;

namespace DnsWarden.Cli;

/// <summary>
/// The consoles human text is written to. On a terminal, its width; into a pipe or file, no wrapping at all (Spectre
/// would wrap at 80 columns and split an IPv6 address in `leak status | less`), unless COLUMNS says otherwise.
/// </summary>
internal static class Terminal
{
    /// <summary>Wide enough that no line dnsw writes is wrapped.</summary>
    private const int Unwrapped = 1024;

    private static readonly Lazy<IAnsiConsole> s_stdout = new(() => Create(Console.Out, Console.IsOutputRedirected));
    private static readonly Lazy<IAnsiConsole> s_stderr = new(() => Create(Console.Error, Console.IsErrorRedirected));

    public static IAnsiConsole Stdout => s_stdout.Value;

    public static IAnsiConsole Stderr => s_stderr.Value;

    private static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        if (int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), NumberStyles.None, CultureInfo.InvariantCulture, out int columns) && columns > 0)
        {
            console.Profile.Width = columns;
        }
        else if (redirected)
        {
            console.Profile.Width = Unwrapped;
        }

        return console;
    }
}
