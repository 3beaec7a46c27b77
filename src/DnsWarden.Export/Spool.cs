using System.Globalization;

namespace DnsWarden.Export;

/// <summary>
/// The on-disk spool: every batch is written here before it is sent and deleted once the server took it, so an
/// outage (or a stop) loses nothing that was batched, and batches go out in the order they were made, across runs.
/// Bounded by <see cref="MaxBytes"/>: a batch that would pass it is refused (the caller counts its rows as dropped).
/// <para>
/// Files are made safely: the directory is created 0700 (an existing one must not be a symbolic link nor writable by
/// group or others), a batch is written to a new file opened with O_CREAT|O_EXCL (never through a symbolic link, never
/// over an existing file) and mode 0600, then renamed into place, so a reader never sees half a batch under a batch
/// name. A file that is not a batch (a symbolic link, a bad header, a torn or damaged body) is renamed
/// <c>*.corrupt</c>, counted and named in one line — never sent, never fatal. Not fsync'd: a batch outlives the
/// process, not a power cut (a file torn by one is found and set aside as above).
/// </para>
/// Used by one thread (the exporter's).
/// </summary>
public sealed class Spool
{
    public const string BatchExtension = ".batch";
    public const string TempExtension = ".tmp";
    public const string CorruptExtension = ".corrupt";

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly SortedDictionary<long, (long Bytes, int Rows)> _pending = [];
    private long _nextSequence;

    private Spool(string directory, long maxBytes)
    {
        Directory = directory;
        MaxBytes = maxBytes;
    }

    public string Directory { get; }

    public long MaxBytes { get; }

    /// <summary>Bytes of the batches waiting (headers included).</summary>
    public long PendingBytes { get; private set; }

    public int PendingBatches => _pending.Count;

    /// <summary>Rows of the batches waiting, as their headers say.</summary>
    public long PendingRows { get; private set; }

    /// <summary>Files set aside as not being batches.</summary>
    public int Corrupt { get; private set; }

    /// <summary>
    /// Opens (and creates, 0700) the spool directory and lists the batches an earlier run left, oldest first.
    /// False with a line saying why when the directory cannot be used safely.
    /// </summary>
    public static bool TryOpen(string directory, long maxBytes, out Spool? spool, out string? error)
    {
        ArgumentNullException.ThrowIfNull(directory);
        spool = null;
        string full = Path.GetFullPath(directory);
        try
        {
            var info = new DirectoryInfo(full);
            if (info.LinkTarget is not null || (!info.Exists && File.Exists(full)))
            {
                error = $"spool {full}: is a symbolic link or not a directory (refused: the spool is written only to a directory of its own)";
                return false;
            }

            if (!info.Exists)
            {
                if (OperatingSystem.IsWindows())
                {
                    System.IO.Directory.CreateDirectory(full);
                }
                else
                {
                    System.IO.Directory.CreateDirectory(full, DirectoryMode);
                }
            }
            else if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
            {
                UnixFileMode mode = File.GetUnixFileMode(full);
                if ((mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
                {
                    error = $"spool {full}: writable by group or others (mode {Convert.ToString((int)mode, 8)}; make it 0700 or name another directory)";
                    return false;
                }
            }

            var s = new Spool(full, maxBytes);
            foreach (string path in System.IO.Directory.EnumerateFiles(full))
            {
                string name = Path.GetFileName(path);
                if (name.EndsWith(TempExtension, StringComparison.Ordinal))
                {
                    // A batch a killed run was writing: never renamed into place, so never announced as whole.
                    File.Delete(path);
                }
                else if (name.EndsWith(BatchExtension, StringComparison.Ordinal)
                    && long.TryParse(name.AsSpan(0, name.Length - BatchExtension.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long seq))
                {
                    long size = new FileInfo(path).Length;
                    int rows = HeaderRows(path);
                    s._pending[seq] = (size, rows);
                    s.PendingBytes += size;
                    s.PendingRows += rows;
                    s._nextSequence = Math.Max(s._nextSequence, seq + 1);
                }
            }

            spool = s;
            error = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"spool {full}: {e.Message}";
            return false;
        }
    }

    /// <summary>Writes a batch at the end of the spool. False when it would pass <see cref="MaxBytes"/> or cannot be written (<paramref name="error"/> says which).</summary>
    public bool TryAppend(ExportTable table, int rows, ReadOnlySpan<byte> payload, out string? error)
    {
        byte[] header = SpoolFileFormat.Header(table, rows, payload);
        long size = header.Length + payload.Length;
        if (PendingBytes + size > MaxBytes)
        {
            error = string.Create(CultureInfo.InvariantCulture, $"spool {Directory} is full ({PendingBytes} of {MaxBytes} bytes)");
            return false;
        }

        long seq = _nextSequence++;
        string temp = PathOf(seq, TempExtension);
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                BufferSize = 0,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = FileMode600;
            }

            using (var file = new FileStream(temp, options))
            {
                file.Write(header);
                file.Write(payload);
            }

            File.Move(temp, PathOf(seq, BatchExtension));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            error = $"spool {Directory}: cannot write a batch: {e.Message}";
            return false;
        }

        _pending[seq] = (size, rows);
        PendingBytes += size;
        PendingRows += rows;
        error = null;
        return true;
    }

    /// <summary>
    /// The oldest batch, read and checked. A file that is not a good batch is set aside (<c>.corrupt</c>), counted,
    /// described in <paramref name="problem"/>, and the next one is tried. False when the spool is empty.
    /// </summary>
    public bool TryPeekOldest(out SpoolBatch? batch, out string? problem)
    {
        problem = null;
        while (_pending.Count > 0)
        {
            (long seq, (long size, int rows)) = _pending.First();
            string path = PathOf(seq, BatchExtension);
            string? error = Read(path, out batch);
            if (error is null)
            {
                return true;
            }

            _pending.Remove(seq);
            PendingBytes -= size;
            PendingRows -= rows;
            Corrupt++;
            try
            {
                File.Move(path, PathOf(seq, CorruptExtension), overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone already, or the directory went read-only: either way it is not pending any more.
            }

            problem = (problem is null ? "" : problem + "; ") + $"spool file {path}: {error} (set aside as {Path.GetFileName(PathOf(seq, CorruptExtension))}, not sent)";
        }

        batch = null;
        return false;
    }

    /// <summary>Deletes a batch the server has taken.</summary>
    public void Remove(SpoolBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (_pending.Remove(batch.Sequence, out (long Bytes, int Rows) entry))
        {
            PendingBytes -= entry.Bytes;
            PendingRows -= entry.Rows;
        }

        TryDelete(batch.Path);
    }

    private string PathOf(long seq, string extension) =>
        Path.Combine(Directory, seq.ToString("D16", CultureInfo.InvariantCulture) + extension);

    /// <summary>The row count a batch file's header announces; 0 when it has none (the file is set aside when its turn comes).</summary>
    private static int HeaderRows(string path)
    {
        if (new FileInfo(path).LinkTarget is not null)
        {
            return 0;
        }

        Span<byte> head = stackalloc byte[SpoolFileFormat.MaxHeaderBytes];
        using FileStream f = File.OpenRead(path);
        int n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        string[] fields = System.Text.Encoding.ASCII.GetString(head[..n]).Split('\n')[0].Split(' ');
        return fields.Length == 6 && int.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out int rows) ? rows : 0;
    }

    private string? Read(string path, out SpoolBatch? batch)
    {
        batch = null;
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null)
            {
                return "is a symbolic link (not followed)";
            }

            if (info.Length > MaxBytes + SpoolFileFormat.MaxHeaderBytes)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{info.Length} bytes, more than the spool's bound of {MaxBytes}");
            }

            byte[] bytes = File.ReadAllBytes(path);
            if (!SpoolFileFormat.TryParse(bytes, out ExportTable table, out int rows, out ReadOnlySpan<byte> payload, out string? error))
            {
                return error;
            }

            long seq = long.Parse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture);
            batch = new SpoolBatch(seq, table, rows, payload.ToArray(), path);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
