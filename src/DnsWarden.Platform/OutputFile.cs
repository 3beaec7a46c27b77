namespace DnsWarden.Platform;

/// <summary>
/// Opens a file that dnsw writes for the user (evidence captures, reports) without ever writing through a link
/// someone else left at that path. dnsw runs as root, often in a shared directory such as /tmp: a symbolic link
/// planted at the output path would otherwise make it overwrite any file on the system.
/// </summary>
public static class OutputFile
{
    /// <summary>
    /// Replaces whatever directory entry is at <paramref name="path"/> with a new, empty regular file and opens it
    /// for writing. The old entry is unlinked, never followed: a symbolic link is removed, not its target; a hard
    /// link loses this name only. The new file is created exclusively (O_CREAT|O_EXCL, which does not follow a
    /// symbolic link either), so a link planted between the two steps makes the open fail instead of being written
    /// through.
    /// </summary>
    /// <param name="path">Where to write.</param>
    /// <param name="unixMode">Permissions of the new file on Unix (before the umask).</param>
    /// <param name="bufferSize">The stream's buffer.</param>
    /// <exception cref="IOException">The path is a directory, its directory does not exist, or the file could not be created.</exception>
    /// <exception cref="UnauthorizedAccessException">No permission to remove the old entry or create the file.</exception>
    public static FileStream Create(string path, UnixFileMode unixMode = UnixFileMode.UserRead | UnixFileMode.UserWrite, int bufferSize = 4096)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path) && !IsLink(path))
        {
            throw new IOException($"{path} is a directory");
        }

        // File.Delete is unlink(2) / DeleteFile: it removes the link itself and succeeds when nothing is there.
        File.Delete(path);
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

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;
}
