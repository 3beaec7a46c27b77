using System.Collections.Concurrent;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// A long-lived thread inside a network namespace that runs work items one at a time, for callers on other threads
/// that need something done there repeatedly (the jail's nftables set insertions, one per DNS answer). The first
/// item can hold per-thread state (an <see cref="NftContext"/>) for the rest.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NamespaceWorker : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public NamespaceWorker(string name)
    {
        string path = NetworkNamespace.PathOf(name);
        _thread = new Thread(() =>
        {
            try
            {
                NetworkNamespace.Enter(path);
                _entered.TrySetResult();
            }
            catch (Exception e)
            {
                _entered.TrySetException(e);
                return;
            }

            foreach (Action item in _work.GetConsumingEnumerable())
            {
                item();
            }
        })
        {
            IsBackground = true,
            Name = "dnsw netns worker " + name,
        };
        _thread.Start();
        _entered.Task.GetAwaiter().GetResult();
    }

    /// <summary>Runs <paramref name="work"/> on the namespace's thread and waits for it.</summary>
    public T Invoke<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        using var done = new ManualResetEventSlim();
        T result = default!;
        Exception? failure = null;
        _work.Add(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                done.Set();
            }
        });
        done.Wait();
        if (failure is not null)
        {
            throw new InvalidOperationException("work in the network namespace failed: " + failure.Message, failure);
        }

        return result;
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }
}
