using System.Diagnostics;

namespace DnsWarden.Guard.Jail;

/// <summary>Runs a setup command (ip, sysctl) to completion; a failure throws with the command and what it printed.</summary>
internal static class HostCommand
{
    public static string Run(string file, params string[] args) => RunWithInput(null, file, args);

    /// <summary>As <see cref="Run"/>, writing <paramref name="input"/> to the command's standard input (<c>ip -batch -</c>).</summary>
    public static string RunWithInput(string? input, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        if (input is not null)
        {
            p.StandardInput.Write(input);
            p.StandardInput.Close();
        }

        // Disposed here: Process.Dispose leaves streams read synchronously open until a finalizer runs.
        using StreamReader stdoutReader = p.StandardOutput;
        using StreamReader stderrReader = p.StandardError;
        Task<string> stdout = stdoutReader.ReadToEndAsync();
        string stderr = stderrReader.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr.Trim()}");
        }

        return stdout.GetAwaiter().GetResult();
    }

    /// <summary>As <see cref="Run"/>, ignoring failure (teardown of something that may be gone already).</summary>
    public static void TryRun(string file, params string[] args)
    {
        try
        {
            Run(file, args);
        }
        catch (InvalidOperationException)
        {
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }
}
