using DnsWarden.Platform;

namespace DnsWarden.Cli;

/// <summary>Opens the files a command writes for the user (evidence, reports) up front, so a bad path fails before any work, in one line.</summary>
internal static class OutputFiles
{
    /// <summary>A new file at <paramref name="file"/>'s path (never written through a link, <see cref="OutputFile"/>); null and a message when it cannot be made.</summary>
    public static FileStream? TryCreate(FileInfo? file, string option, UnixFileMode mode, out string? error)
    {
        error = null;
        if (file is null)
        {
            return null;
        }

        try
        {
            return OutputFile.Create(file.FullName, mode, bufferSize: 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"{option} {file.FullName}: {e.Message}";
            return null;
        }
    }

    /// <summary>Writes a finished page; false, with one line on stderr, when the disk refuses it.</summary>
    public static bool TryWrite(FileStream file, string document, string option)
    {
        try
        {
            DnsWarden.Report.Html.HtmlPage.Write(file, document);
            file.Flush();
            return true;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"dnsw: {option} {file.Name}: {e.Message}");
            return false;
        }
    }

    /// <summary>Packets keep what the privacy mode cuts from events: the owner alone reads them.</summary>
    public const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>A report holds what the events file holds.</summary>
    public const UnixFileMode Shared = Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
}
