using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using DnsWarden.Platform.Interop.Linux;

namespace DnsWarden.Platform.Users;

/// <summary>A user as the system's name service knows it (getpwnam_r/getpwuid_r, so NSS sources count), with its groups.</summary>
public sealed record UserAccount(string Name, int Uid, int Gid, string Home, string Shell, IReadOnlyList<int> Groups)
{
    /// <summary>uid 0 or gid 0, whatever the account is called.</summary>
    public bool IsRoot => Uid == 0 || Gid == 0;

    /// <summary>The account named <paramref name="nameOrId"/> (a name, or a numeric uid); null when there is none.</summary>
    [SupportedOSPlatform("linux")]
    public static UserAccount? Find(string nameOrId)
    {
        ArgumentException.ThrowIfNullOrEmpty(nameOrId);
        return uint.TryParse(nameOrId, NumberStyles.None, CultureInfo.InvariantCulture, out uint uid) ? FindById(uid) : Lookup(name: nameOrId, uid: 0);
    }

    [SupportedOSPlatform("linux")]
    public static UserAccount? FindById(uint uid) => Lookup(name: null, uid);

    /// <summary>
    /// The user who ran dnsw: the one sudo names (SUDO_UID, then SUDO_GID), or the process's own user. What a user
    /// asked for — an output file, a jailed command — belongs to this account, not to root.
    /// </summary>
    [SupportedOSPlatform("linux")]
    public static UserAccount Invoking()
    {
        if (uint.TryParse(Environment.GetEnvironmentVariable("SUDO_UID"), NumberStyles.None, CultureInfo.InvariantCulture, out uint sudoUid)
            && FindById(sudoUid) is { } sudoUser)
        {
            return uint.TryParse(Environment.GetEnvironmentVariable("SUDO_GID"), NumberStyles.None, CultureInfo.InvariantCulture, out uint sudoGid)
                ? sudoUser with { Gid = (int)sudoGid }
                : sudoUser;
        }

        uint self = LibC.GetUid();
        return FindById(self) ?? new UserAccount("uid" + self.ToString(CultureInfo.InvariantCulture), (int)self, (int)self, "/", "/bin/sh", []);
    }

    [SupportedOSPlatform("linux")]
    private static unsafe UserAccount? Lookup(string? name, uint uid)
    {
        for (int size = 4096; size <= 1 << 20; size *= 4)
        {
            byte[] buffer = new byte[size];
            LibC.Passwd entry;
            LibC.Passwd* result = null;
            int rc;
            fixed (byte* b = buffer)
            {
                rc = name is not null
                    ? LibC.GetPwNamR(name, &entry, b, (nuint)size, &result)
                    : LibC.GetPwUidR(uid, &entry, b, (nuint)size, &result);
                if (rc == LibC.ERange)
                {
                    continue;
                }

                if (rc != 0 || result == null)
                {
                    return null;
                }

                string accountName = Marshal.PtrToStringUTF8(entry.Name) ?? "";
                return new UserAccount(
                    accountName,
                    (int)entry.Uid,
                    (int)entry.Gid,
                    Marshal.PtrToStringUTF8(entry.Directory) ?? "/",
                    Marshal.PtrToStringUTF8(entry.Shell) ?? "/bin/sh",
                    GroupsOf(accountName, entry.Gid));
            }
        }

        return null;
    }

    [SupportedOSPlatform("linux")]
    private static unsafe int[] GroupsOf(string name, uint primary)
    {
        int count = 64;
        while (true)
        {
            uint[] groups = new uint[count];
            int n = count;
            fixed (uint* g = groups)
            {
                if (LibC.GetGroupList(name, primary, g, &n) >= 0)
                {
                    return [.. groups.AsSpan(0, n).ToArray().Select(x => (int)x)];
                }
            }

            if (n <= count)
            {
                return [(int)primary];
            }

            count = n;
        }
    }
}
