using System.Diagnostics;
using System.Text;

namespace DnsWarden.E2E;

/// <summary>
/// A long-running process started inside a namespace in its own session and process group
/// (<c>setsid ip netns exec NS cmd</c>; both exec in place, so <see cref="Pid"/> is the command's pid and its
/// group id). Stopping signals the whole group, so helpers it forked go too.
/// </summary>
public sealed class NetnsProcess : IAsyncDisposable
{
    // Keeps a chatty server from growing memory without bound; the head and the tail are what a failure needs.
    private const int MaxKeptOutputChars = 256 * 1024;

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Lock _gate = new();
    private readonly List<(string Text, TaskCompletionSource Signal)> _waiters = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stopped;

    private NetnsProcess(string netns, string label, string commandLine, Process process)
    {
        Namespace = netns;
        Label = label;
        CommandLine = commandLine;
        _process = process;
    }

    private int _pid;
    private int? _exitCode;

    public string Namespace { get; }

    /// <summary>Short name for messages (e.g. "dnsmasq").</summary>
    public string Label { get; }

    public string CommandLine { get; }

    /// <summary>Pid of the command, which is also its process group id.</summary>
    public int Pid => _pid;

    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Exit code once it has exited (the runtime reports 128 + n for a death by signal n).</summary>
    public int? ExitCode => HasExited ? _exitCode : null;

    public string StdOut
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StdErr
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Completes when the process exits.</summary>
    public Task Exited => _exited.Task;

    internal static NetnsProcess Start(string netns, string label, string fileName, IEnumerable<string> args)
    {
        string[] argv = args.ToArray();
        var psi = new ProcessStartInfo(HostTools.Resolve("setsid"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // A test runner started in the background (`cmd &` in a script, nohup, some CI agents) ignores SIGINT and
        // SIGHUP, and an ignored signal stays ignored across exec: the Ctrl-C, reload and stop the tests send would
        // then never arrive. Each process starts with the default action for them, as from a terminal.
        psi.ArgumentList.Add(HostTools.Resolve("env"));
        psi.ArgumentList.Add("--default-signal=INT,HUP,QUIT,TERM");
        psi.ArgumentList.Add(HostTools.Resolve("ip"));
        psi.ArgumentList.Add("netns");
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(netns);
        psi.ArgumentList.Add(HostTools.Find(fileName) ?? fileName);
        foreach (string a in argv)
        {
            psi.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var handle = new NetnsProcess(netns, label, ProcessRunner.FormatCommandLine($"[{netns}] {fileName}", argv), process);
        process.OutputDataReceived += (_, e) => handle.OnLine(handle._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => handle.OnLine(handle._stderr, e.Data);
        process.Exited += (_, _) => handle.OnExited();
        process.Start();
        handle._pid = process.Id;
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return handle;
    }

    /// <summary>Waits until stdout or stderr contains <paramref name="text"/>; fails at once when the process exits first.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            if (_stdout.ToString().Contains(text, StringComparison.Ordinal) || _stderr.ToString().Contains(text, StringComparison.Ordinal))
            {
                return;
            }

            signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((text, signal));
        }

        Task delay = Task.Delay(timeout, cancellationToken);
        Task done = await Task.WhenAny(signal.Task, _exited.Task, delay);
        if (done == signal.Task)
        {
            return;
        }

        cancellationToken.ThrowIfCancellationRequested();

        // Output lines may land just after the exit event; give them a moment before judging.
        if (done == _exited.Task && await Task.WhenAny(signal.Task, Task.Delay(200, CancellationToken.None)) == signal.Task)
        {
            return;
        }

        string why = done == _exited.Task ? $"exited with {ExitCode}" : $"did not print it within {timeout.TotalSeconds:F0} s";
        throw new InvalidOperationException($"{Label} {why} while waiting for \"{text}\".\n{Describe()}");
    }

    /// <summary>How many lines of stdout and stderr so far contain <paramref name="text"/>.</summary>
    public int CountLines(string text)
    {
        lock (_gate)
        {
            return CountIn(_stdout.ToString(), text) + CountIn(_stderr.ToString(), text);
        }

        static int CountIn(string output, string text) =>
            output.Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal));
    }

    /// <summary>Waits until <paramref name="count"/> lines contain <paramref name="text"/> (a line printed again, not the first one seen).</summary>
    public async Task WaitForLinesAsync(string text, int count, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (CountLines(text) < count)
        {
            if (HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"{Label} printed \"{text}\" {CountLines(text)} times, not {count}.\n{Describe()}");
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>Sends a signal to the process group.</summary>
    public bool Signal(ProcessSignal signal) => ProcessRunner.SignalGroup(Pid, signal);

    /// <summary>
    /// Signals the group with <paramref name="signal"/>, waits up to <paramref name="grace"/> for the exit,
    /// then kills the group and the tree. Safe to call more than once.
    /// </summary>
    public async Task StopAsync(ProcessSignal signal = ProcessSignal.Terminate, TimeSpan? grace = null)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            await _exited.Task.WaitAsync(TimeSpan.FromSeconds(10));
            return;
        }

        if (!HasExited)
        {
            Signal(signal);
            await Task.WhenAny(_exited.Task, Task.Delay(grace ?? TimeSpan.FromSeconds(3)));
        }

        // The group may hold children even after the leader exited.
        ProcessRunner.SignalGroup(Pid, ProcessSignal.Kill);
        ProcessRunner.KillTree(_process);
        await _exited.Task.WaitAsync(TimeSpan.FromSeconds(10)); // set once the readers drained (OnExited)
    }

    public string Describe()
    {
        string state = HasExited ? $"exited {ExitCode}" : "running";
        return $"{CommandLine} (pid {Pid}, {state})\n--- stdout ---\n{Tail(StdOut)}\n--- stderr ---\n{Tail(StdErr)}";
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    private static string Tail(string s) => s.Length <= 8000 ? s.TrimEnd() : "…" + s[^8000..].TrimEnd();

    private void OnLine(StringBuilder target, string? line)
    {
        if (line is null)
        {
            return;
        }

        List<TaskCompletionSource>? ready = null;
        lock (_gate)
        {
            if (target.Length < MaxKeptOutputChars)
            {
                target.Append(line).Append('\n');
            }

            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (line.Contains(_waiters[i].Text, StringComparison.Ordinal))
                {
                    (ready ??= []).Add(_waiters[i].Signal);
                    _waiters.RemoveAt(i);
                }
            }
        }

        if (ready is not null)
        {
            foreach (TaskCompletionSource s in ready)
            {
                s.TrySetResult();
            }
        }
    }

    /// <summary>
    /// The process has ended, but its last lines may still be in the pipes: the exit is reported once stdout and stderr
    /// have reached their end too (WaitForExitAsync waits for both), or after 5 s when a descendant holds them open.
    /// </summary>
    private void OnExited() => _ = Task.Run(async () =>
    {
        try
        {
            await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
            _exitCode = _process.ExitCode;
        }
        catch (TimeoutException)
        {
            _exitCode = _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            // Disposed meanwhile; the code is then unknown.
        }

        _exited.TrySetResult();
    });
}
