using System.Text;

namespace DnsWarden.E2E;

/// <summary>The outcome of one finished command.</summary>
/// <param name="CommandLine">The command as run, for messages.</param>
/// <param name="ExitCode">Exit code; -1 when it timed out and was killed.</param>
/// <param name="StdOut">Everything it wrote to stdout.</param>
/// <param name="StdErr">Everything it wrote to stderr.</param>
/// <param name="TimedOut">True when the timeout ended it.</param>
/// <param name="Elapsed">Wall time from start to exit.</param>
public sealed record CommandResult(
    string CommandLine,
    int ExitCode,
    string StdOut,
    string StdErr,
    bool TimedOut,
    TimeSpan Elapsed)
{
    public bool Succeeded => !TimedOut && ExitCode == 0;

    /// <summary>Throws with the command's output when it did not exit 0.</summary>
    public CommandResult EnsureSuccess()
    {
        if (!Succeeded)
        {
            throw new InvalidOperationException($"Command failed: {Describe()}");
        }

        return this;
    }

    /// <summary>A one-block description with the exit code and both streams, for failure messages.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(CommandLine);
        sb.Append(TimedOut ? " => timed out" : $" => exit {ExitCode}");
        sb.Append(" after ").Append(Elapsed.TotalMilliseconds.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)).Append(" ms");
        if (StdOut.Length > 0)
        {
            sb.Append("\n--- stdout ---\n").Append(StdOut.TrimEnd());
        }

        if (StdErr.Length > 0)
        {
            sb.Append("\n--- stderr ---\n").Append(StdErr.TrimEnd());
        }

        return sb.ToString();
    }

    public override string ToString() => Describe();
}
