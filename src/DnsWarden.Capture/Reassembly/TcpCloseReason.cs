namespace DnsWarden.Capture.Reassembly;

/// <summary>Why a stream direction ended.</summary>
public enum TcpCloseReason
{
    Fin,
    Rst,
    IdleTimeout,

    /// <summary>Dropped to make room under <see cref="TcpReassemblerOptions.MaxFlows"/>.</summary>
    Evicted,

    /// <summary>Ended by <see cref="TcpReassembler.CloseAll"/> (e.g. end of a capture file).</summary>
    Flushed,
}
