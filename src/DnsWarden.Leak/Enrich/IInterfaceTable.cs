namespace DnsWarden.Leak.Enrich;

/// <summary>The interfaces of the host a live capture runs on: names by index (a Linux "any" capture) and their kernel facts.</summary>
public interface IInterfaceTable
{
    /// <summary>Changes whenever the table was read again, so that what was judged from an older reading is judged again.</summary>
    public int Version { get; }

    /// <summary>The interface named so, or null when the kernel does not know it.</summary>
    public InterfaceFacts? Find(string name);

    /// <summary>The name of the interface with this index, or null when the kernel does not know it.</summary>
    public string? NameOf(int index);
}
