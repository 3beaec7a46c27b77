namespace DnsWarden.Platform;

public static partial class OutputFile
{
    /// <summary>Elsewhere (Windows): links are reparse points, and there are no device or pipe entries in the file system.</summary>
    private static Entry ProbeOther(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            return Entry.SymbolicLink;
        }

        return Directory.Exists(path) ? Entry.Directory : info.Exists ? Entry.RegularFile : Entry.None;
    }
}
