using DnsWarden.Platform.Users;

namespace DnsWarden.Cli;

/// <summary>
/// Every file a user names for dnsw's output is opened here: on Linux as the user who ran dnsw (sudo's user) and never
/// through a link (<see cref="OutputFile"/>); elsewhere as a plain file. Errors are one line naming the option.
/// </summary>
internal static class OutputFiles
{
    public static FileStream Open(string path, bool append, int bufferSize = 4096) =>
        OperatingSystem.IsLinux()
            ? OutputFile.Open(path, UserAccount.Invoking(), append, bufferSize)
            : new FileStream(path, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize);

    /// <summary>Opens, or writes "dnsw: OPTION PATH: why" and returns null.</summary>
    public static FileStream? TryOpen(string option, string path, bool append, TextWriter stderr, int bufferSize = 4096)
    {
        try
        {
            return Open(path, append, bufferSize);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"dnsw: {option} {CliText.About(path, e)}");
            return null;
        }
    }

    /// <summary>Writes a finished page (a report) to a file opened here; false, with one line on stderr, when the disk refuses it.</summary>
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
            Console.Error.WriteLine($"dnsw: {option} {file.Name}: {CliText.Describe(e)}");
            return false;
        }
    }
}
