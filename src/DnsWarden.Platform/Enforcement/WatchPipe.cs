using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform.Enforcement;

/// <summary>
/// A pipe that tells a descendant when this process is gone, whatever the cause (SIGKILL included): the write end
/// stays here (close-on-exec, so no child holds it), the read end is inherited down an exec chain; when the last
/// write end closes — this process ended — a read there returns end of file.
/// PR_SET_PDEATHSIG cannot do this across the exec chain of ip, unshare and the jail's init, and it follows the
/// thread that started the child rather than the process.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class WatchPipe : IDisposable
{
    private const int GetDescriptorFlags = 1;
    private const int SetDescriptorFlags = 2;
    private const int CloseOnExecFlag = 1;

    private int _readEnd;
    private int _writeEnd;

    private WatchPipe(int readEnd, int writeEnd)
    {
        _readEnd = readEnd;
        _writeEnd = writeEnd;
    }

    /// <summary>The descriptor number children inherit (not close-on-exec until <see cref="CloseReadEnd"/>).</summary>
    public int ReadEnd => _readEnd;

    public static unsafe WatchPipe Create()
    {
        int* fds = stackalloc int[2];
        if (LibC.Pipe2(fds, 0) != 0)
        {
            throw new IOException("pipe2: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        }

        SetCloseOnExec(fds[1]);
        return new WatchPipe(fds[0], fds[1]);
    }

    /// <summary>Closes this process's copy of the read end once the child that needs it has started.</summary>
    public void CloseReadEnd()
    {
        if (_readEnd >= 0)
        {
            _ = LibC.Close(_readEnd);
            _readEnd = -1;
        }
    }

    /// <summary>In the descendant: blocks until the watching process is gone (end of file, or an error on the pipe).</summary>
    public static unsafe void WaitForEnd(int readEnd)
    {
        byte b;
        while (true)
        {
            nint n = LibC.Read(readEnd, &b, 1);
            if (n == 0 || (n < 0 && Marshal.GetLastPInvokeError() != 4))
            {
                return;
            }
        }
    }

    /// <summary>In the descendant: keeps the read end from being passed on to what it starts.</summary>
    public static void SetCloseOnExec(int fd) =>
        _ = LibC.Fcntl(fd, SetDescriptorFlags, LibC.Fcntl(fd, GetDescriptorFlags, 0) | CloseOnExecFlag);

    public void Dispose()
    {
        CloseReadEnd();
        if (_writeEnd >= 0)
        {
            _ = LibC.Close(_writeEnd);
            _writeEnd = -1;
        }
    }
}
