using System.Diagnostics;
using System.Runtime.Versioning;

namespace DnsWarden.Platform;

/// <summary>
/// User names by uid from /etc/passwd, reread when the file changes. Only the local file: a directory service
/// (NSS, LDAP) would mean a network lookup on the capture path.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class UserNames
{
    private static readonly TimeSpan s_checkInterval = TimeSpan.FromSeconds(5);

    private readonly string _path;
    private Dictionary<int, string> _names = [];
    private DateTime _written = DateTime.MinValue;
    private long _checked = -1;

    public UserNames(string path = "/etc/passwd") => _path = path;

    public string? NameOf(int? uid)
    {
        if (uid is not { } id)
        {
            return null;
        }

        if (_checked < 0 || Stopwatch.GetElapsedTime(_checked) >= s_checkInterval)
        {
            Refresh();
        }

        return _names.GetValueOrDefault(id);
    }

    private void Refresh()
    {
        _checked = Stopwatch.GetTimestamp();
        try
        {
            DateTime written = File.GetLastWriteTimeUtc(_path);
            if (written != _written)
            {
                _names = ProcText.ParsePasswd(File.ReadAllText(_path));
                _written = written;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // No passwd file: uids stay numbers.
        }
    }
}
