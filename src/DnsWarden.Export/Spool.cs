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
/// <para>
/// A run that will lose the right to write the shared directory (the jail drops to nobody before it reads a byte from
/// the jail) spools beneath it instead, in a directory of its own (<see cref="TryOpenForRun"/>); whatever that run
/// could not send is taken back by the next run that opens the shared spool.
/// </para>
/// Used by one thread (the exporter's).
/// </summary>
public sealed class Spool
{
    public const string BatchExtension = ".batch";
    public const string TempExtension = ".tmp";
    public const string CorruptExtension = ".corrupt";

    /// <summary>Names of the directories runs spool in beneath the shared one: <c>run-</c> and 16 hex digits.</summary>
    public const string RunDirectoryPrefix = "run-";

    /// <summary>
    /// Beside each run directory, in the shared one: the file the run holds locked (flock) for as long as it lives; free
    /// means the run has ended. It lies where only root may write, never in the directory the run is given.
    /// </summary>
    public const string RunLockExtension = ".lock";

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly SortedDictionary<long, (long Bytes, int Rows)> _pending = [];
    private long _nextSequence;

    private Spool(string directory, long maxBytes)
    {
        Directory = directory;
        MaxBytes = maxBytes;
        _access = directory;
    }

    /// <summary>The spool's directory, as messages name it.</summary>
    public string Directory { get; }

    // Where its files are reached: the directory itself, or a path through a descriptor this process holds
    // (/proc/self/fd/N, see ReachThrough) once the path itself is closed to it.
    private string _access;

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
                CreatePrivateDirectory(full);
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
                else if (TryBatchSequence(name, out long seq))
                {
                    s.Add(seq, new FileInfo(path).Length, HeaderRows(path));
                    s._nextSequence = Math.Max(s._nextSequence, seq + 1);
                }
            }

            s.TakeBackEndedRuns();
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

    /// <summary>
    /// Opens the shared spool <paramref name="directory"/> (as <see cref="TryOpen"/>, taking back what ended runs left)
    /// and makes beneath it a spool for one run: a new directory <c>run-</c>RANDOM (0700), with <c>run-</c>RANDOM<c>.lock</c>
    /// beside it held locked for as long as <paramref name="runLock"/> stays open, into which every batch the shared
    /// spool holds is moved, so this run sends them. The caller then gives that directory and its files to the user the run becomes, and reaches it
    /// through a descriptor (<see cref="ReachThrough"/>): the shared directory stays root's 0700, so the run's
    /// directory is out of every other process's reach, the jailed command's (which may run as the same user) too.
    /// </summary>
    public static bool TryOpenForRun(string directory, long maxBytes, out Spool? spool, out FileStream? runLock, out string? error)
    {
        spool = null;
        runLock = null;
        if (!TryOpen(directory, maxBytes, out Spool? shared, out error))
        {
            return false;
        }

        string name = RunDirectoryPrefix + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        string final = Path.Combine(shared!.Directory, name);
        try
        {
            // The lock first, then the directory: a run directory is never seen without a held lock while it is made.
            runLock = new FileStream(final + RunLockExtension, NewFileOptions(FileAccess.ReadWrite));
            CreatePrivateDirectory(final);

            var run = new Spool(final, maxBytes);
            foreach ((long seq, (long size, int rows)) in shared._pending)
            {
                File.Move(shared.PathOf(seq, BatchExtension), run.PathOf(seq, BatchExtension));
                run.Add(seq, size, rows);
            }

            run._nextSequence = shared._nextSequence;
            run.Corrupt = shared.Corrupt;
            spool = run;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            runLock?.Dispose();
            runLock = null;
            error = $"spool {final}: cannot make the run's spool: {e.Message}";
            return false;
        }
    }

    /// <summary>
    /// From now on the spool's files are reached through <paramref name="accessPath"/> (e.g. <c>/proc/self/fd/N</c> for
    /// a descriptor of the directory opened while its path could still be walked); messages still name
    /// <see cref="Directory"/>.
    /// </summary>
    public void ReachThrough(string accessPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(accessPath);
        _access = accessPath;
    }

    /// <summary>
    /// Moves the batches of every run directory whose run has ended (its lock is free, or gone) to the end of this spool,
    /// in their order, and removes the directory. A run directory is written by a process that gave up root and may have
    /// been subverted by what it parsed, so nothing in it is opened in place or followed: each batch is renamed into
    /// this directory first (rename follows no link) and only then looked at — a symbolic link, a FIFO or an empty file
    /// is removed unread, every batch is checked again before it is sent — and the directory is emptied with unlink and
    /// removed with rmdir, never walked recursively (a directory planted in it leaves it in place, harmlessly). The lock
    /// lies beside it, in this directory, where the run could not reach.
    /// </summary>
    private void TakeBackEndedRuns()
    {
        foreach (string dir in System.IO.Directory.EnumerateDirectories(Directory, RunDirectoryPrefix + "*"))
        {
            if (new DirectoryInfo(dir).LinkTarget is not null)
            {
                continue;
            }

            string lockPath = dir + RunLockExtension;
            FileStream? held = null;
            try
            {
                held = new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.None);
            }
            catch (FileNotFoundException)
            {
                // No lock beside it: an earlier taking back stopped half-way. The directory is taken back all the same.
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // its run still holds the lock
            }

            using (held)
            {
                var batches = new SortedDictionary<long, string>();
                foreach (string path in System.IO.Directory.EnumerateFiles(dir, "*" + BatchExtension))
                {
                    if (TryBatchSequence(Path.GetFileName(path), out long seq))
                    {
                        batches[seq] = path;
                    }
                }

                foreach (string path in batches.Values)
                {
                    long seq = _nextSequence++;
                    string taken = PathOf(seq, BatchExtension);
                    File.Move(path, taken);
                    var info = new FileInfo(taken);
                    if (info.LinkTarget is not null || info.Length == 0)
                    {
                        TryDelete(taken);
                        continue;
                    }

                    Add(seq, info.Length, HeaderRows(taken));
                }

                foreach (string entry in System.IO.Directory.EnumerateFileSystemEntries(dir))
                {
                    TryDelete(entry);
                }

                try
                {
                    System.IO.Directory.Delete(dir, recursive: false);
                }
                catch (IOException)
                {
                    continue; // something that is not a file was planted in it: left, and its lock with it
                }
            }

            TryDelete(lockPath);
        }

        // A lock whose directory is gone (removed before the lock by a run that then stopped) and that nobody holds.
        foreach (string lockPath in System.IO.Directory.EnumerateFiles(Directory, RunDirectoryPrefix + "*" + RunLockExtension))
        {
            if (!System.IO.Directory.Exists(lockPath[..^RunLockExtension.Length]))
            {
                try
                {
                    using (new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.None))
                    {
                    }

                    TryDelete(lockPath);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Held: a run is between making its lock and its directory.
                }
            }
        }
    }

    private void Add(long seq, long size, int rows)
    {
        _pending[seq] = (size, rows);
        PendingBytes += size;
        PendingRows += rows;
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
            using (var file = new FileStream(temp, NewFileOptions(FileAccess.Write)))
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

        Add(seq, size, rows);
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

            problem = (problem is null ? "" : problem + "; ") + $"spool file {Path.Combine(Directory, Path.GetFileName(path))}: {error} (set aside as {Path.GetFileName(PathOf(seq, CorruptExtension))}, not sent)";
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

    /// <summary>A directory only its owner may use (0700).</summary>
    private static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(path);
        }
        else
        {
            System.IO.Directory.CreateDirectory(path, DirectoryMode);
        }
    }

    /// <summary>A new file, never an existing one nor through a link (O_CREAT|O_EXCL), 0600, unbuffered, held exclusively.</summary>
    private static FileStreamOptions NewFileOptions(FileAccess access)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = access, Share = FileShare.None, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode600;
        }

        return options;
    }

    /// <summary>The sequence number of a batch file's name (<c>NNNN.batch</c>); false for any other name.</summary>
    private static bool TryBatchSequence(string name, out long seq)
    {
        seq = 0;
        return name.EndsWith(BatchExtension, StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(0, name.Length - BatchExtension.Length), NumberStyles.None, CultureInfo.InvariantCulture, out seq);
    }

    private string PathOf(long seq, string extension) =>
        Path.Combine(_access, seq.ToString("D16", CultureInfo.InvariantCulture) + extension);

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
