using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using DnsWarden.Platform.Interop.Linux.Nftables;
using Microsoft.Win32.SafeHandles;

namespace DnsWarden.Platform.Enforcement;

/// <summary>What one batch of nftables commands did: success, the listing it printed, the error text libnftables gave.</summary>
public readonly record struct NftResult(bool Ok, string Output, string Error)
{
    public override string ToString() => Ok ? Output : Error;
}

/// <summary>
/// One libnftables context. Callers pass addresses only as literals they formatted themselves: nft resolves anything
/// that does not parse as an address as a host name (getaddrinfo, the system resolver), and libnftables 1.0.6 has
/// no switch to stop it (NFT_CTX_INPUT_NO_DNS came later). Commands run in the network namespace of the calling thread — use
/// <see cref="NetworkNamespace.RunAsync{T}"/> to reach another one. A batch (several commands, one per line) is
/// applied atomically by the kernel: all of it or none. Not thread-safe: one context per thread.
/// <para>
/// libnftables 1.0.6 opens its netlink socket in <c>nft_ctx_new</c> and waits on it with select(2), whose fd_set
/// holds descriptors below 1024: with a higher one glibc aborts the whole process. A context is therefore refused
/// (with the reason) when the lowest free descriptor is already that high, and long-lived users open theirs while
/// descriptors are few — at start-up — and keep it for their teardown.
/// </para>
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class NftContext : IDisposable
{
    private nint _context;

    /// <param name="json">Listings as JSON (<c>nft -j</c>) instead of text.</param>
    public NftContext(bool json = false)
    {
        int lowestFree = LowestFreeDescriptor();
        if (lowestFree >= SelectLimit)
        {
            throw new IOException(
                $"too many open descriptors for libnftables: its socket would be descriptor {lowestFree}, and it waits with select(2), which stops at {SelectLimit}");
        }

        try
        {
            _context = LibNftables.ContextNew(LibNftables.ContextDefault);
        }
        catch (DllNotFoundException e)
        {
            throw new PlatformNotSupportedException("libnftables.so.1 is not installed (Debian/Ubuntu package nftables)", e);
        }

        if (_context == 0)
        {
            throw new InvalidOperationException("nft_ctx_new failed");
        }

        LibNftables.BufferOutput(_context);
        LibNftables.BufferError(_context);
        if (json)
        {
            LibNftables.SetOutputFlags(_context, LibNftables.GetOutputFlags(_context) | LibNftables.OutputJson);
        }
    }

    /// <summary>FD_SETSIZE in glibc: select(2)'s fd_set holds descriptors below it.</summary>
    public const int SelectLimit = 1024;

    /// <summary>Whether libnftables can be loaded here.</summary>
    public static bool IsAvailable => NativeLibrary.TryLoad("libnftables.so.1", out nint handle) && Free(handle);

    /// <summary>Runs <paramref name="commands"/> (nft -f syntax). Never throws for a command the kernel or the parser refused: the result says why.</summary>
    public unsafe NftResult Run(string commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        ObjectDisposedException.ThrowIf(_context == 0, this);
        int length = Encoding.UTF8.GetByteCount(commands);
        byte[] buffer = new byte[length + 1];
        Encoding.UTF8.GetBytes(commands, buffer);
        int rc;
        fixed (byte* p = buffer)
        {
            rc = LibNftables.RunCommandFromBuffer(_context, p);
        }

        string output = Marshal.PtrToStringUTF8(LibNftables.GetOutputBuffer(_context)) ?? "";
        string error = Marshal.PtrToStringUTF8(LibNftables.GetErrorBuffer(_context)) ?? "";
        return new NftResult(rc == 0, output, error);
    }

    public void Dispose()
    {
        if (_context != 0)
        {
            LibNftables.ContextFree(_context);
            _context = 0;
        }
    }

    /// <summary>The descriptor the next open(2) or socket(2) gets: the lowest free one.</summary>
    private static int LowestFreeDescriptor()
    {
        using SafeFileHandle probe = File.OpenHandle("/dev/null");
        return (int)probe.DangerousGetHandle();
    }

    private static bool Free(nint handle)
    {
        NativeLibrary.Free(handle);
        return true;
    }
}
