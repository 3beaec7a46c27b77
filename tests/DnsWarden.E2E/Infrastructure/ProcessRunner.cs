using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace DnsWarden.E2E;

/// <summary>Linux signal numbers the helpers send.</summary>
public enum ProcessSignal
{
    Hangup = 1,
    Interrupt = 2,
    Kill = 9,
    Terminate = 15,
    Continue = 18,
    Stop = 19,
}

/// <summary>Runs host commands with a timeout and collects their output.</summary>
public static class ProcessRunner
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Runs a command to completion; on timeout kills its whole tree and reports <c>TimedOut</c>.</summary>
    public static async Task<CommandResult> RunAsync(
        string fileName,
        IEnumerable<string> args,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        string[] argv = args.ToArray();
        var psi = new ProcessStartInfo(HostTools.Find(fileName) ?? fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in argv)
        {
            psi.ArgumentList.Add(a);
        }

        string commandLine = FormatCommandLine(fileName, argv);
        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        process.Start();
        process.StandardInput.Close();

        Task<string> stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        Task<string> stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);

        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout ?? DefaultTimeout);
        bool timedOut = false;
        try
        {
            await process.WaitForExitAsync(timeoutCts.Token);
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
            KillTree(process);
            await process.WaitForExitAsync(CancellationToken.None);
        }

        string outText = await stdout;
        string errText = await stderr;

        // Process.Dispose leaves streams the caller read synchronously open (they are "the caller's"): without
        // these the pipes stay open until a finalizer runs, and a long test run passes 1,024 descriptors.
        process.StandardOutput.Dispose();
        process.StandardError.Dispose();
        cancellationToken.ThrowIfCancellationRequested();
        return new CommandResult(commandLine, timedOut ? -1 : process.ExitCode, outText, errText, timedOut, stopwatch.Elapsed);
    }

    /// <summary>Sends a signal to a whole process group (the group a <c>setsid</c> start made).</summary>
    /// <returns>False when nothing in the group was left to signal.</returns>
    public static bool SignalGroup(int processGroupId, ProcessSignal signal)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(processGroupId, 1);
        return LibC.Kill(-processGroupId, (int)signal) == 0;
    }

    /// <summary>Sends a signal to one process.</summary>
    /// <returns>False when the process was already gone.</returns>
    public static bool Signal(int pid, ProcessSignal signal)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(pid, 1);
        return LibC.Kill(pid, (int)signal) == 0;
    }

    public static bool IsAlive(int pid)
    {
        // A zombie still has a /proc entry; only count processes that can still act.
        string statPath = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat";
        try
        {
            string stat = File.ReadAllText(statPath);
            int close = stat.LastIndexOf(')');
            return close < 0 || close + 2 >= stat.Length || stat[close + 2] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>Polls until the pid is gone (or a zombie); false when it is still alive at the timeout.</summary>
    public static async Task<bool> WaitForDeathAsync(int pid, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (IsAlive(pid))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }

    internal static void KillTree(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Raced with its exit.
        }
    }

    internal static string FormatCommandLine(string fileName, IEnumerable<string> args)
    {
        var sb = new StringBuilder(fileName);
        foreach (string a in args)
        {
            sb.Append(' ');
            bool quote = a.Length == 0 || a.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '$' or '(' or ')' or ';' or '*');
            if (quote)
            {
                sb.Append('\'').Append(a.Replace("'", "'\\''", StringComparison.Ordinal)).Append('\'');
            }
            else
            {
                sb.Append(a);
            }
        }

        return sb.ToString();
    }
}
