using System.Text;
using DnsWarden.Policy;

namespace DnsWarden.Policy.Tests;

/// <summary>Broken policy files and the exact "file:line:column: message" each gives.</summary>
public sealed class PolicyErrorTests
{
    private const string RootKeys =
        "version, profile, safe_route_classes, safe_interfaces, interface_classes, safe_resolvers, allowed_processes, allowed_ports, split, encrypted_dns, exfiltration";

    private static string Error(byte[] bytes)
    {
        bool ok = PolicyLoader.TryParse(bytes, "p.json", out LeakPolicy? policy, out PolicyError? error);
        Assert.False(ok);
        Assert.Null(policy);
        Assert.NotNull(error);
        return error.ToString();
    }

    private static string Error(string json) => Error(Encoding.UTF8.GetBytes(json));

    public static TheoryData<string, string, string> Broken => new()
    {
        {
            "syntax error mid-file",
            "{\n  \"version\": 1,\n  \"profile\": \"split\"\n  \"safe_interfaces\": []\n}",
            "p.json:4:3: invalid JSON: '\"' is invalid after a value. Expected either ',', '}', or ']'."
        },
        {
            "truncated file",
            "{\n  \"version\": 1,\n  \"safe_interfaces\": [\"wg0\"",
            "p.json:3:28: unexpected end of file (an object, array or string is not closed)"
        },
        {
            "truncated inside a string",
            "{ \"profile\": \"spl",
            "p.json:1:18: unexpected end of file (an object, array or string is not closed)"
        },
        {
            "unknown key, near a known one",
            "{\n\t\"safe_interface\": [\"wg0\"]\n}",
            $"p.json:2:2: unknown key 'safe_interface' (did you mean 'safe_interfaces'? expected one of: {RootKeys})"
        },
        {
            "unknown key, near nothing",
            "{ \"colour\": \"blue\" }",
            $"p.json:1:3: unknown key 'colour' (expected one of: {RootKeys})"
        },
        {
            "unknown key in a section",
            "{ \"split\": { \"defualt\": \"proxy\" } }",
            "p.json:1:14: unknown key 'defualt' in split (did you mean 'default'? expected one of: proxy_domains, direct_domains, default)"
        },
        {
            "wrong type: string for an array",
            "{\n  \"safe_interfaces\": \"wg0\"\n}",
            "p.json:2:22: safe_interfaces: expected an array of strings, got a string"
        },
        {
            "wrong type: number in a string array",
            "{ \"allowed_processes\": [\"sing-box\", 7] }",
            "p.json:1:37: allowed_processes: expected an array of strings, got the number 7 at index 1"
        },
        {
            "wrong type: share out of range",
            "{ \"exfiltration\": { \"txt_null_share\": 1.5 } }",
            "p.json:1:39: exfiltration.txt_null_share: expected a number between 0 and 1, got the number 1.5"
        },
        {
            "wrong type: share as a string",
            "{ \"exfiltration\": { \"nxdomain_share\": \"half\" } }",
            "p.json:1:39: exfiltration.nxdomain_share: expected a number between 0 and 1, got a string"
        },
        {
            "number too large for a double",
            "{ \"exfiltration\": { \"min_entropy\": 1e400 } }",
            "p.json:1:36: exfiltration.min_entropy: expected a number between 0 and 8, got the number 1e400"
        },
        {
            "fractional count",
            "{ \"exfiltration\": { \"min_queries\": 2.5 } }",
            "p.json:1:36: exfiltration.min_queries: expected a whole number between 1 and 1000000, got the number 2.5"
        },
        {
            "wrong type: boolean",
            "{ \"encrypted_dns\": { \"builtin_endpoints\": \"no\" } }",
            "p.json:1:43: encrypted_dns.builtin_endpoints: expected true or false, got a string"
        },
        {
            "wrong type: section",
            "{ \"split\": [] }",
            "p.json:1:12: split: expected an object, got an array"
        },
        {
            "bad version",
            "{ \"version\": 2 }",
            "p.json:1:14: version: expected 1 (the only policy version), got the number 2"
        },
        {
            "bad enum: profile",
            "{ \"profile\": \"vpn\" }",
            "p.json:1:14: profile: 'vpn' is not a profile (expected one of: full-tunnel, proxy-stub, split)"
        },
        {
            "bad enum: route class",
            "{ \"safe_route_classes\": [\"loopback\", \"Tunnel\"] }",
            "p.json:1:38: safe_route_classes[1]: 'Tunnel' is not a route class (expected one of: loopback, tunnel, physical, virtual, unknown)"
        },
        {
            "bad enum: interface class",
            "{ \"interface_classes\": { \"wg0\": \"vpn\" } }",
            "p.json:1:33: interface_classes.wg0: 'vpn' is not a route class (expected one of: loopback, tunnel, physical, virtual, unknown)"
        },
        {
            "bad enum: split default",
            "{ \"split\": { \"default\": \"both\" } }",
            "p.json:1:25: split.default: 'both' is not a split default (expected one of: direct, proxy)"
        },
        {
            "bad CIDR: host bits set",
            "{ \"safe_resolvers\": [\"10.0.0.1/8\"] }",
            "p.json:1:22: safe_resolvers[0]: '10.0.0.1/8' is not a CIDR range (expected e.g. 10.0.0.0/8 or fd00::/8 with no host bits set)"
        },
        {
            "bad CIDR: prefix too long",
            "{ \"encrypted_dns\": { \"approved_egress\": [\"fd00::/129\"] } }",
            "p.json:1:42: encrypted_dns.approved_egress[0]: 'fd00::/129' is not a CIDR range (expected e.g. 10.0.0.0/8 or fd00::/8 with no host bits set)"
        },
        {
            "bad address: short IPv4",
            "{ \"safe_resolvers\": [\"10.1\"] }",
            "p.json:1:22: safe_resolvers[0]: '10.1' is not an IP address (expected IP, IP:PORT, [IPv6]:PORT or CIDR)"
        },
        {
            "bad port: allowed port out of range",
            "{ \"allowed_ports\": [443, 70000] }",
            "p.json:1:26: allowed_ports[1]: expected a port number between 1 and 65535, got 70000"
        },
        {
            "bad port: zero in an endpoint",
            "{ \"safe_resolvers\": [\"10.8.0.1:0\"] }",
            "p.json:1:22: safe_resolvers[0]: '10.8.0.1:0' has a bad port (expected IP:PORT with PORT 1–65535)"
        },
        {
            "bad port: IPv6 endpoint",
            "{ \"safe_resolvers\": [\"[fd00::1]:x\"] }",
            "p.json:1:22: safe_resolvers[0]: '[fd00::1]:x' has a bad port (expected [IPv6]:PORT with PORT 1–65535)"
        },
        {
            "bad domain: space",
            "{ \"split\": { \"proxy_domains\": [\"bad domain.example\"] } }",
            "p.json:1:32: split.proxy_domains[0]: 'bad domain.example' has the character ' ' (expected letters, digits, '-' or '_')"
        },
        {
            "bad domain: empty label",
            "{ \"encrypted_dns\": { \"approved_hosts\": [\"a..example\"] } }",
            "p.json:1:41: encrypted_dns.approved_hosts[0]: 'a..example' has an empty or over-long label (labels are 1–63 characters)"
        },
        {
            "bad server name: a rule where a name belongs",
            "{ \"encrypted_dns\": { \"remove_hosts\": [\"*.dns.google\"] } }",
            "p.json:1:39: encrypted_dns.remove_hosts[0]: '*.dns.google' is a rule, not a server name (expected a name such as dns.example)"
        },
        {
            "bad address in an endpoint",
            "{ \"encrypted_dns\": { \"endpoints\": [ { \"name\": \"x\", \"addresses\": [\"198.51.100.053\"] } ] } }",
            "p.json:1:66: encrypted_dns.endpoints[0].addresses[0]: '198.51.100.053' is not an IP address (expected e.g. 198.51.100.53 or 2001:db8::53)"
        },
        {
            "unknown key in an endpoint",
            "{ \"encrypted_dns\": { \"endpoints\": [ { \"host\": [] } ] } }",
            "p.json:1:39: unknown key 'host' in encrypted_dns.endpoints[0] (did you mean 'hosts'? expected one of: name, hosts, addresses)"
        },
        {
            "bad duration: space",
            "{ \"exfiltration\": { \"window\": \"60 s\" } }",
            "p.json:1:31: exfiltration.window: '60 s' is not a duration above 0 and at most 7 days (expected a number and a unit: ms, s, m, h or d, e.g. 500ms, 1.5s, 2m (a number alone is seconds))"
        },
        {
            "bad duration: zero window",
            "{ \"exfiltration\": { \"window\": \"0\" } }",
            "p.json:1:31: exfiltration.window: '0' is not a duration above 0 and at most 7 days (expected a number and a unit: ms, s, m, h or d, e.g. 500ms, 1.5s, 2m (a number alone is seconds))"
        },
        {
            "bad duration: a number",
            "{ \"exfiltration\": { \"window\": 60 } }",
            "p.json:1:31: exfiltration.window: expected a duration such as \"60s\", got the number 60"
        },
        {
            "duplicate key",
            "{\n \"profile\": \"split\",\n \"profile\": \"full-tunnel\"\n}",
            "p.json:3:2: duplicate key 'profile' (first at line 2)"
        },
        {
            "duplicate key in interface_classes",
            "{ \"interface_classes\": { \"wg0\": \"tunnel\",\n  \"wg0\": \"physical\" } }",
            "p.json:2:3: duplicate key 'wg0' (first at line 1)"
        },
        {
            "non-object root: array",
            "[ { \"profile\": \"split\" } ]",
            "p.json:1:1: expected a JSON object at the root, got an array"
        },
        {
            "non-object root: string, after a comment",
            "// policy\n  \"split\"",
            "p.json:2:3: expected a JSON object at the root, got a string"
        },
        {
            "empty file",
            "",
            "p.json:1:1: empty file (expected a JSON object such as { \"version\": 1 })"
        },
        {
            "whitespace only",
            " \r\n\t\n",
            "p.json:1:1: empty file (expected a JSON object such as { \"version\": 1 })"
        },
        {
            "comments only",
            "// nothing here\n/* at all */",
            "p.json:2:13: empty file: only whitespace and comments (expected a JSON object such as { \"version\": 1 })"
        },
        {
            "content after the object",
            "{ }\n{ }",
            "p.json:2:1: invalid JSON: '{' is invalid after a single JSON value. Expected end of data."
        },
        {
            "columns count characters, not bytes",
            "{ \"allowed_processes\": [\"café→\"], \"x\": 1 }",
            $"p.json:1:35: unknown key 'x' (expected one of: {RootKeys})"
        },
        {
            "a lone surrogate escape",
            "{ \"allowed_processes\": [\"\\uD800\"] }",
            "p.json:1:25: invalid string: an escape does not form valid Unicode"
        },
        {
            "control character in a name",
            "{ \"allowed_processes\": [\"a\\u0000b\"] }",
            "p.json:1:25: allowed_processes[0]: expected a non-empty name without control characters, got 'a\\u0000b'"
        },
        {
            "deep nesting under a key",
            "{ \"safe_interfaces\": " + new string('[', 5000) + new string(']', 5000) + " }",
            "p.json:1:23: safe_interfaces: expected an array of strings, got an array at index 0"
        },
        {
            "deep nesting at the root",
            new string('[', 100_000),
            "p.json:1:1: expected a JSON object at the root, got an array"
        },
        {
            "deep nesting of objects",
            "{ \"interface_classes\": { \"a\": " + string.Concat(Enumerable.Repeat("{ \"a\": ", 1000)) + " } }",
            "p.json:1:31: interface_classes.a: expected a route class (loopback, tunnel, physical, virtual, unknown), got an object"
        },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void BrokenFile_GivesTheExactError(string name, string json, string expected)
    {
        Assert.NotNull(name);
        Assert.Equal(expected, Error(json));
    }

    [Fact]
    public void InvalidUtf8_PointsAtTheByte()
    {
        byte[] text = [.. "{\n  \"allowed_processes\": [\"café\", \"x"u8, 0xC3, .. "\"] }"u8];
        Assert.Equal("p.json:2:35: invalid UTF-8 (byte 0xC3); a policy file is UTF-8 text", Error(text));
    }

    [Fact]
    public void InvalidUtf8_Overlong()
    {
        // 0xC0 0xAF is an overlong '/', which RFC 3629 §3 forbids.
        byte[] text = [.. "{ \"profile\": \""u8, 0xC0, 0xAF, .. "\" }"u8];
        Assert.Equal("p.json:1:15: invalid UTF-8 (byte 0xC0); a policy file is UTF-8 text", Error(text));
    }

    [Fact]
    public void BinaryGarbage_ElfHeader()
    {
        byte[] elf = [0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0x3E, 0];
        Assert.Equal("p.json:1:1: invalid JSON: '0x7F' is an invalid start of a value.", Error(elf));
    }

    [Fact]
    public void BinaryGarbage_GzipHeader()
    {
        byte[] gz = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];
        Assert.Equal("p.json:1:2: invalid UTF-8 (byte 0x8B); a policy file is UTF-8 text", Error(gz));
    }

    [Fact]
    public void BinaryGarbage_Nul()
    {
        Assert.Equal("p.json:1:1: invalid JSON: '0x00' is an invalid start of a value.", Error(new byte[64]));
    }

    [Fact]
    public void HugeInput_IsRefusedBeforeParsing()
    {
        byte[] big = new byte[PolicyLoader.MaxFileBytes + 1];
        big.AsSpan().Fill((byte)' ');
        big[0] = (byte)'{';
        big[^1] = (byte)'}';
        Assert.Equal("p.json: the file is 1048577 bytes; a policy file is at most 1048576 bytes (1 MiB)", Error(big));

        big[^2] = (byte)'}';
        big[^1] = (byte)' ';
        Assert.True(PolicyLoader.TryParse(big.AsSpan(0, PolicyLoader.MaxFileBytes), "p.json", out _, out _));
    }

    [Fact]
    public void Load_MissingFile()
    {
        string path = Path.Combine(Path.GetTempPath(), "dnswarden-no-such-" + Guid.NewGuid().ToString("N") + ".json");
        Assert.False(PolicyLoader.TryLoad(path, out LeakPolicy? p, out PolicyError? error));
        Assert.Null(p);
        Assert.Equal($"{path}: no such file", error!.ToString());

        string inMissingDir = Path.Combine(path, "policy.json");
        Assert.False(PolicyLoader.TryLoad(inMissingDir, out _, out error));
        Assert.Equal($"{inMissingDir}: no such file", error!.ToString());
    }

    [Fact]
    public void Load_Directory()
    {
        string dir = Path.GetTempPath();
        Assert.False(PolicyLoader.TryLoad(dir, out _, out PolicyError? error));
        Assert.Equal($"{dir}: is a directory, not a policy file", error!.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("a\0b")]
    public void Load_BadPath(string path)
    {
        Assert.False(PolicyLoader.TryLoad(path, out _, out PolicyError? error));
        Assert.Equal(0, error!.Line);
        Assert.Equal(0, error.Column);
    }

    [Fact]
    public void Load_HugeFile()
    {
        string path = Path.Combine(Path.GetTempPath(), "dnswarden-huge-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            using (FileStream f = File.Create(path))
            {
                f.SetLength(3L * 1024 * 1024);
            }

            Assert.False(PolicyLoader.TryLoad(path, out _, out PolicyError? error));
            Assert.Equal($"{path}: the file is 3145728 bytes; a policy file is at most 1048576 bytes (1 MiB)", error!.ToString());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_EndlessSpecialFile()
    {
        if (!File.Exists("/dev/zero"))
        {
            Assert.Skip("no /dev/zero on this system");
        }

        // A character device reports no length, so the limit must hold while reading.
        Assert.False(PolicyLoader.TryLoad("/dev/zero", out _, out PolicyError? error));
        Assert.Equal("/dev/zero: the file is 1048577 bytes; a policy file is at most 1048576 bytes (1 MiB)", error!.ToString());
    }

    [Fact]
    public void Load_ErrorsNameTheFile()
    {
        string path = Path.Combine(Path.GetTempPath(), "dnswarden-bad-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            File.WriteAllText(path, "{\n  \"profile\": \"vpn\"\n}\n");
            Assert.False(PolicyLoader.TryLoad(path, out _, out PolicyError? error));
            Assert.Equal($"{path}:2:14: profile: 'vpn' is not a profile (expected one of: full-tunnel, proxy-stub, split)", error!.ToString());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
