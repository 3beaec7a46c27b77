namespace DnsWarden.Platform;

/// <summary>
/// Opens a file that dnsw writes for the user (evidence captures, reports) without ever writing through a link
/// someone else left at that path. dnsw runs as root, often in a shared directory such as /tmp: a symbolic link
/// planted at the output path would otherwise make it overwrite any file on the system, and a named pipe would hand
/// the output to whoever reads it.
/// </summary>
public static partial class OutputFile
{
    /// <summary>
    /// Creates a new, empty regular file at <paramref name="path"/> and opens it for writing. A regular file already
    /// there is replaced (unlinked: a hard link loses this name only, its other names keep their content); a symbolic
    /// link, a directory, a device, a pipe or a socket is refused and left as it is (as O_NOFOLLOW would). The file is
    /// created exclusively (O_CREAT|O_EXCL, which follows no link), so an entry planted between the check and the
    /// creation makes the open fail instead of being written through.
    /// </summary>
    /// <param name="path">Where to write.</param>
    /// <param name="unixMode">Permissions of the new file on Unix (before the umask).</param>
    /// <param name="bufferSize">The stream's buffer.</param>
    /// <exception cref="IOException">The path is not a regular file, its directory does not exist, or the file could not be created.</exception>
    /// <exception cref="UnauthorizedAccessException">No permission to remove the old file or create the new one.</exception>
    public static FileStream Create(string path, UnixFileMode unixMode = UnixFileMode.UserRead | UnixFileMode.UserWrite, int bufferSize = 4096)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        switch (OperatingSystem.IsLinux() ? ProbeLinux(path) : ProbeOther(path))
        {
            case Entry.None:
                break;
            case Entry.RegularFile:
                File.Delete(path);
                break;
            case Entry.SymbolicLink:
                throw new IOException($"{path} is a symbolic link; output is never written through one (remove it, or name the file it points to)");
            case Entry.Directory:
                throw new IOException($"{path} is a directory");
            default:
                throw new IOException($"{path} is not a regular file (a device, pipe or socket)");
        }

        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.Read,
            BufferSize = bufferSize,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = unixMode;
        }

        return new FileStream(path, options);
    }

    /// <summary>What a path names, without following it.</summary>
    private enum Entry
    {
        None,
        RegularFile,
        SymbolicLink,
        Directory,
        Other,
    }
}
