using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace DnsWarden.Platform.Interop.Linux.Bpf;

/// <summary>
/// libbpf (Debian's libbpf1): opens a BPF object from memory, relocates it against the kernel's BTF (CO-RE), loads it,
/// attaches its programs to a cgroup through BPF links, and reads a ring buffer. libbpf 1.x returns NULL or a negative
/// errno and sets errno on failure.
/// </summary>
internal static unsafe partial class LibBpf
{
    private const string Library = "libbpf.so.1";

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "libbpf_set_print")]
    public static partial nint SetPrint(nint printFunction);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "bpf_object__open_mem", SetLastError = true)]
    public static partial nint ObjectOpenMemory(byte* buffer, nuint size, nint options);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "bpf_object__load")]
    public static partial int ObjectLoad(nint bpfObject);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "bpf_object__close")]
    public static partial void ObjectClose(nint bpfObject);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "bpf_object__find_program_by_name", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint FindProgram(nint bpfObject, string name);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "bpf_object__find_map_by_name", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint FindMap(nint bpfObject, string name);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "bpf_map__fd")]
    public static partial int MapFd(nint map);

    /// <summary>BPF_LINK_CREATE for the program's cgroup attach type; the link lives as long as its descriptor.</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "bpf_program__attach_cgroup", SetLastError = true)]
    public static partial nint AttachCgroup(nint program, int cgroupFd);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "bpf_link__destroy")]
    public static partial int LinkDestroy(nint link);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "bpf_map_lookup_elem", SetLastError = true)]
    public static partial int MapLookup(int mapFd, void* key, void* value);

    /// <summary><c>int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size)</c>.</summary>
    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "ring_buffer__new", SetLastError = true)]
    public static partial nint RingBufferNew(int mapFd, delegate* unmanaged<nint, void*, nuint, int> sample, nint context, nint options);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "ring_buffer__consume")]
    public static partial int RingBufferConsume(nint ringBuffer);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "ring_buffer__epoll_fd")]
    public static partial int RingBufferEpollFd(nint ringBuffer);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "ring_buffer__free")]
    public static partial void RingBufferFree(nint ringBuffer);

    [SupportedOSPlatform("linux")]
    [LibraryImport(Library, EntryPoint = "libbpf_strerror")]
    public static partial int StrError(int error, byte* buffer, nuint size);
}
