using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Tests;

public sealed class ProcessIdentityTests
{
    [Theory]
    // fs/proc/array.c: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime …
    [InlineData("42 (sleep) S 1 42 42 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 987654 8000000 200", 'S', 987654UL)]
    [InlineData("7 (a) b) c) Z 1 7 7 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 12 0 0", 'Z', 12UL)]
    [InlineData("9 (x (y)) R 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551615", 'R', ulong.MaxValue)]
    public void StatStateAndStartAreReadAfterTheLastParenthesis(string stat, char state, ulong start)
    {
        Assert.True(ProcText.TryParseStatStateAndStart(stat, out char s, out ulong t));
        Assert.Equal(state, s);
        Assert.Equal(start, t);
    }

    [Theory]
    [InlineData("")]
    [InlineData("42 sleep S 1")]
    [InlineData("42 (sleep)")]
    [InlineData("42 (sleep) S 1 42 42 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0")]
    [InlineData("42 (sleep) S 1 42 42 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 x 1")]
    public void TruncatedOrMalformedStatIsRejected(string stat) =>
        Assert.False(ProcText.TryParseStatStateAndStart(stat, out _, out _));

    [Theory]
    [InlineData("123 456", true, 123, 456UL)]
    [InlineData(" 123 456\n", true, 123, 456UL)]
    [InlineData("123", false, 0, 0UL)]
    [InlineData("0 456", false, 0, 0UL)]
    [InlineData("-1 456", false, 0, 0UL)]
    [InlineData("123 -4", false, 0, 0UL)]
    [InlineData("123 4 5", false, 0, 0UL)]
    public void RecordTextRoundTrips(string text, bool ok, int pid, ulong start)
    {
        Assert.Equal(ok, ProcessIdentity.TryParse(text, out ProcessIdentity id));
        if (ok)
        {
            Assert.Equal(new ProcessIdentity(pid, start), id);
            Assert.True(ProcessIdentity.TryParse(id.ToString(), out ProcessIdentity again));
            Assert.Equal(id, again);
        }
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public void ThisProcessIsAliveAndAnotherStartTimeIsNot()
    {
        ProcessIdentity me = ProcessIdentity.Current;
        Assert.Equal(Environment.ProcessId, me.Pid);
        Assert.True(me.IsAlive);
        Assert.False((me with { StartTime = me.StartTime + 1 }).IsAlive);
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public void AZombieIsDead()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("Linux /proc");
        }

        // python starts a sleep, kills it and never reaps it: the sleep stays a zombie while python lives.
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in new[] { "-c", "import subprocess,sys; p=subprocess.Popen(['sleep','60']); print(p.pid, flush=True); p.kill(); sys.stdin.read()" })
        {
            psi.ArgumentList.Add(a);
        }

        using Process parent = Process.Start(psi)!;
        using StreamReader stdout = parent.StandardOutput;
        try
        {
            int pid = int.Parse(stdout.ReadLine()!, CultureInfo.InvariantCulture);
            string statPath = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat";

            // SIGKILL is delivered asynchronously: wait for the state to say so (the entry stays while unreaped).
            string stat = File.ReadAllText(statPath);
            while (!stat.Contains(") Z ", StringComparison.Ordinal))
            {
                Thread.Yield();
                stat = File.ReadAllText(statPath);
            }

            Assert.True(File.Exists(statPath));
            Assert.Null(ProcessIdentity.Of(pid));
        }
        finally
        {
            parent.StandardInput.Close();
            parent.WaitForExit();
        }
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public void WaitForExit_TimesOutOnALiveProcess_AndReturnsOnceSignalEndsIt()
    {
        using Process sleep = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            ProcessIdentity id = ProcessIdentity.Of(sleep.Id) ?? throw new InvalidOperationException("sleep is not running");
            Assert.False(id.WaitForExit(TimeSpan.FromMilliseconds(50)));
            Assert.True(id.Signal(9));
            Assert.True(id.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.False(id.IsAlive);
        }
        finally
        {
            sleep.Kill();
            sleep.WaitForExit();
        }
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public void AnotherStartTimeIsNeitherWaitedForNorSignalled()
    {
        // This very pid, but not this process: a pid recycled since the record was written.
        ProcessIdentity recycled = ProcessIdentity.Current with { StartTime = ProcessIdentity.Current.StartTime + 1 };
        Assert.True(recycled.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.False(recycled.Signal(0));
        Assert.True(ProcessIdentity.Current.Signal(0));
    }
}
