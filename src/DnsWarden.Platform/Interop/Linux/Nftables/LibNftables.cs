using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux.Nftables;

/// <summary>
/// libnftables (libnftables(3)): the library behind the <c>nft</c> command, so a rule or set element is one call in
/// this process instead of one <c>nft</c> process per change. Text in, text out: the same syntax as <c>nft -f</c>.
/// </summary>
internal static partial class LibNftables
{
    private const string Library = "libnftables.so.1";

    /// <summary>NFT_CTX_DEFAULT.</summary>
    public const uint ContextDefault = 0;

    /// <summary>NFT_CTX_OUTPUT_HANDLE: listings carry each rule's handle.</summary>
    public const uint OutputHandle = 1 << 3;

    /// <summary>NFT_CTX_OUTPUT_JSON: listings and errors as JSON.</summary>
    public const uint OutputJson = 1 << 4;

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "nft_ctx_new")]
    public static partial nint ContextNew(uint flags);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "nft_ctx_free")]
    public static partial void ContextFree(nint context);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "nft_ctx_buffer_output")]
    public static partial int BufferOutput(nint context);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "nft_ctx_buffer_error")]
    public static partial int BufferError(nint context);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "nft_ctx_get_output_buffer")]
    public static partial nint GetOutputBuffer(nint context);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "nft_ctx_get_error_buffer")]
    public static partial nint GetErrorBuffer(nint context);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "nft_ctx_output_get_flags")]
    public static partial uint GetOutputFlags(nint context);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "nft_ctx_output_set_flags")]
    public static partial void SetOutputFlags(nint context, uint flags);

    /// <summary>Runs commands in <c>nft -f</c> syntax; 0 on success. The buffer must be NUL-terminated.</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "nft_run_cmd_from_buffer")]
    public static unsafe partial int RunCommandFromBuffer(nint context, byte* buffer);
}
