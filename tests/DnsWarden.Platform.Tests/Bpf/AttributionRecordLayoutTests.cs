using System.Diagnostics;
using System.Runtime.CompilerServices;
using DnsWarden.Platform.Interop.Linux.Bpf;

namespace DnsWarden.Platform.Tests.Bpf;

/// <summary>
/// The records the BPF program writes (src/DnsWarden.Platform/Bpf/attribution.h) against the structs that read them:
/// every field's offset and every size as the C compiler lays out the very header the program is built from.
/// </summary>
public sealed class AttributionRecordLayoutTests
{
    private static readonly string s_header = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../src/DnsWarden.Platform/Bpf/attribution.h"));

    [Fact]
    public void Layout_AgreesWithTheHeader_FieldByField()
    {
        if (!File.Exists("/usr/include/linux/types.h") || !ToolExists("gcc"))
        {
            Assert.Skip("needs gcc and linux-libc-dev (/usr/include/linux/types.h)");
        }

        Assert.True(File.Exists(s_header), s_header);
        string dir = Directory.CreateTempSubdirectory("dnsw-bpf-layout").FullName;
        try
        {
            string source = Path.Combine(dir, "layout.c");
            File.WriteAllText(source, $$"""
                #include <stdio.h>
                #include <stddef.h>
                #include <linux/types.h>
                #include "{{s_header}}"
                #define F(t, f) printf(#t "." #f " %zu\n", offsetof(struct t, f))
                int main(void)
                {
                    printf("key %zu\nancestor %zu\nrecord %zu\n", sizeof(struct dnsw_flow_key), sizeof(struct dnsw_ancestor), sizeof(struct dnsw_send_record));
                    F(dnsw_flow_key, netns); F(dnsw_flow_key, daddr); F(dnsw_flow_key, dport); F(dnsw_flow_key, sport); F(dnsw_flow_key, protocol);
                    F(dnsw_ancestor, tgid); F(dnsw_ancestor, comm);
                    F(dnsw_send_record, key); F(dnsw_send_record, cookie); F(dnsw_send_record, boot_ns); F(dnsw_send_record, cgroup_id);
                    F(dnsw_send_record, tgid); F(dnsw_send_record, pid); F(dnsw_send_record, uid); F(dnsw_send_record, gid);
                    F(dnsw_send_record, saddr); F(dnsw_send_record, hook); F(dnsw_send_record, joined); F(dnsw_send_record, thread);
                    F(dnsw_send_record, process); F(dnsw_send_record, exe_name); F(dnsw_send_record, exe_ino); F(dnsw_send_record, ancestors);
                    printf("ancestors %d comm %d\n", DNSW_ANCESTORS, DNSW_COMM_LEN);
                    return 0;
                }
                """);
            string exe = Path.Combine(dir, "layout");
            Run("gcc", $"-o {exe} {source}");
            string[] lines = Run(exe, "").Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("ancestors 4 comm 16", lines[^1]);
            Dictionary<string, int> c = lines[..^1].Select(l => l.Split(' '))
                .ToDictionary(p => p[0], p => int.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));

            DnswFlowKey k = default;
            DnswAncestor a = default;
            DnswSendRecord r = default;
            Assert.Equal(c["key"], Unsafe.SizeOf<DnswFlowKey>());
            Assert.Equal(c["ancestor"], Unsafe.SizeOf<DnswAncestor>());
            Assert.Equal(c["record"], Unsafe.SizeOf<DnswSendRecord>());
            Assert.Equal(c["dnsw_flow_key.netns"], Offset(ref k, ref k.Netns));
            Assert.Equal(c["dnsw_flow_key.daddr"], Offset(ref k, ref k.DestinationAddress));
            Assert.Equal(c["dnsw_flow_key.dport"], Offset(ref k, ref k.DestinationPort));
            Assert.Equal(c["dnsw_flow_key.sport"], Offset(ref k, ref k.SourcePort));
            Assert.Equal(c["dnsw_flow_key.protocol"], Offset(ref k, ref k.Protocol));
            Assert.Equal(c["dnsw_ancestor.tgid"], Offset(ref a, ref a.Tgid));
            Assert.Equal(c["dnsw_ancestor.comm"], Offset(ref a, ref a.Comm));
            Assert.Equal(c["dnsw_send_record.key"], Offset(ref r, ref r.Key));
            Assert.Equal(c["dnsw_send_record.cookie"], Offset(ref r, ref r.Cookie));
            Assert.Equal(c["dnsw_send_record.boot_ns"], Offset(ref r, ref r.BootNs));
            Assert.Equal(c["dnsw_send_record.cgroup_id"], Offset(ref r, ref r.CgroupId));
            Assert.Equal(c["dnsw_send_record.tgid"], Offset(ref r, ref r.Tgid));
            Assert.Equal(c["dnsw_send_record.pid"], Offset(ref r, ref r.Pid));
            Assert.Equal(c["dnsw_send_record.uid"], Offset(ref r, ref r.Uid));
            Assert.Equal(c["dnsw_send_record.gid"], Offset(ref r, ref r.Gid));
            Assert.Equal(c["dnsw_send_record.saddr"], Offset(ref r, ref r.SourceAddress));
            Assert.Equal(c["dnsw_send_record.hook"], Offset(ref r, ref r.Hook));
            Assert.Equal(c["dnsw_send_record.joined"], Offset(ref r, ref r.Joined));
            Assert.Equal(c["dnsw_send_record.thread"], Offset(ref r, ref r.Thread));
            Assert.Equal(c["dnsw_send_record.process"], Offset(ref r, ref r.Process));
            Assert.Equal(c["dnsw_send_record.exe_name"], Offset(ref r, ref r.ExeName));
            Assert.Equal(c["dnsw_send_record.exe_ino"], Offset(ref r, ref r.ExeInode));
            Assert.Equal(c["dnsw_send_record.ancestors"], Offset(ref r, ref r.Ancestors));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The object the build embedded is what the loader looks for, under the name it looks for.</summary>
    [Fact]
    public void TheBuild_EmbedsTheProgram()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/include/bpf/bpf_helpers.h"))
        {
            Assert.Skip("the program is built only on Linux with libbpf-dev");
        }

        using Stream? stream = typeof(SendRecordTable).Assembly.GetManifestResourceStream(ResourceName);
        Assert.NotNull(stream);
        byte[] head = new byte[20];
        stream.ReadExactly(head);
        Assert.Equal("\u007fELF"u8.ToArray(), head[..4]);
        Assert.Equal(247, BitConverter.ToUInt16(head, 18)); // e_machine EM_BPF (elf.h)
    }

    private const string ResourceName = "DnsWarden.Platform.attribution.bpf.o";

    private static int Offset<TStruct, TField>(ref TStruct s, ref TField field) =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<TStruct, byte>(ref s), ref Unsafe.As<TField, byte>(ref field));

    private static bool ToolExists(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, name)));

    private static string Run(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} failed: {stderr}");
        return stdout;
    }
}
