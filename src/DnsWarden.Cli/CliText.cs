using System.Net.Sockets;
using System.Text.Json;

namespace DnsWarden.Cli;

/// <summary>
/// What went wrong, in the words of the system (errno's text, as coreutils print it), never .NET's: no
/// "(Parameter 'x')", no "LineNumber: 0 | BytePositionInLine: 0", no path repeated after the caller named it.
/// </summary>
internal static class CliText
{
    /// <summary>As <see cref="Describe(Exception)"/>, knowing the path it was about: a directory where a file was wanted is said so.</summary>
    public static string Describe(Exception e, string? path) =>
        e is UnauthorizedAccessException or IOException && path is not null && Directory.Exists(path) ? "Is a directory" : Describe(e);

    /// <summary>"PATH: why", naming the path once even when the exception's own text starts with it.</summary>
    public static string About(string path, Exception e) =>
        e is IOException && e.Message.StartsWith(path + ":", StringComparison.Ordinal) ? e.Message : $"{path}: {Describe(e, path)}";

    public static string Describe(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        PathTooLongException => "File name too long",
        SocketException s => s.Message,
        JsonException j => Json(j),
        ArgumentException a => Strip(a.Message, a.ParamName),
        _ => Strip(e.Message, null),
    };

    private static string Json(JsonException e)
    {
        string where = e.LineNumber is long line
            ? $"line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}: "
            : "";
        string message = e.Message;
        int cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut < 0)
        {
            cut = message.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        }

        return where + (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }

    private static string Strip(string message, string? parameter)
    {
        if (parameter is not null)
        {
            string suffix = $" (Parameter '{parameter}')";
            if (message.EndsWith(suffix, StringComparison.Ordinal))
            {
                message = message[..^suffix.Length];
            }
        }

        // An IOException names the path in quotes; the caller names it once in front.
        return message.TrimEnd('.');
    }
}
