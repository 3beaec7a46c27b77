namespace DnsWarden.Wire.Transport;

/// <summary>TCP control bits, byte 13 of the header (RFC 9293 §3.1; ECE/CWR from RFC 3168 §6.1).</summary>
[Flags]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
    Urg = 0x20,
    Ece = 0x40,
    Cwr = 0x80,
}
