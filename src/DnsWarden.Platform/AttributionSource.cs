namespace DnsWarden.Platform;

/// <summary>Which source named a flow's process.</summary>
public enum AttributionSource
{
    /// <summary>No source named it.</summary>
    None,

    /// <summary>The kernel, at send time: the BPF program on the connect and sendmsg hooks.</summary>
    Bpf,

    /// <summary>netlink sock_diag at packet time (the socket still existed).</summary>
    SockDiag,

    /// <summary>The /proc/net tables at packet time (sock_diag refused).</summary>
    Proc,

    /// <summary>Windows: the IP Helper socket tables at packet time.</summary>
    IpHelper,
}
