namespace DnsWarden.E2E.Security;

/// <summary>The small Python programs of the TUN bypass tests (standard library only): listeners, and the attacks.</summary>
internal static class TunBypassScripts
{
    public static IReadOnlyList<(string Name, string Text)> All { get; } =
    [
        ("udplog.py", UdpLog),
        ("icmplog.py", IcmpLog),
        ("send.py", Send),
        ("icmperror.py", IcmpError),
        ("frame.py", Frame),
    ];

    /// <summary>A dual-stack UDP listener on [::]:PORT: every datagram is logged as "got PAYLOAD from SOURCE".</summary>
    private const string UdpLog = """
        import socket, sys
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", int(sys.argv[1])))
        while True:
            data, peer = s.recvfrom(65535)
            print(f"got {data.decode('ascii', 'replace')} from {peer[0]}", flush=True)
        """;

    /// <summary>
    /// Every ICMP message the namespace receives (a raw socket sees them all, whatever they quote), logged with the
    /// test tag found in it: "icmp type=T from SOURCE tag=TAG". Prints "ready" once the socket is open.
    /// </summary>
    private const string IcmpLog = """
        import re, socket
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        print("ready", flush=True)
        while True:
            data, peer = s.recvfrom(65535)
            ihl = (data[0] & 15) * 4
            m = re.search(rb"tunsec-[a-z0-9-]+", data)
            print(f"icmp type={data[ihl]} from {peer[0]} tag={m.group(0).decode() if m else '-'}", flush=True)
        """;

    /// <summary>
    /// Sends one UDP datagram TAG to ADDRESS:PORT and prints "sent TAG" or "error TAG ERRNO". Options: --dev IFACE
    /// (SO_BINDTODEVICE), --scope IFACE (an IPv6 link-local scope id), --rthdr HOP (an IPv6 segment routing header,
    /// type 4, that the kernel sends to HOP first), --lsrr HOP (IPv4 loose source route through HOP; the kernel asks
    /// for CAP_NET_RAW), --from PORT.
    /// </summary>
    private const string Send = """
        import argparse, socket, struct
        p = argparse.ArgumentParser()
        p.add_argument("tag"); p.add_argument("address"); p.add_argument("port", type=int)
        p.add_argument("--dev"); p.add_argument("--scope"); p.add_argument("--rthdr"); p.add_argument("--lsrr")
        p.add_argument("--from", dest="source", type=int, default=0)
        a = p.parse_args()
        v6 = ":" in a.address
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if a.dev:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, a.dev.encode())
            if a.rthdr:
                # RFC 8754 §2: next header, length in 8-octet units after the first 8, type 4, segments left,
                # last entry, flags, tag, then the segments in reverse order. The kernel puts the destination in
                # segment 0 and sends to segment [segments left] first (net/ipv6/exthdrs.c).
                hop = socket.inet_pton(socket.AF_INET6, a.rthdr)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RTHDR, struct.pack(">BBBBBBH", 0, 4, 4, 1, 1, 0, 0) + bytes(16) + hop)
            if a.lsrr:
                # RFC 791 loose source and record route: type 131, length, pointer 4, the route; the kernel sends to
                # its first address and puts the destination last. A no-op pads the options to 32 bits.
                route = socket.inet_aton(a.lsrr) + socket.inet_aton(a.address)
                s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([131, 3 + len(route), 4]) + route + b"\x01")
            if a.source:
                s.bind(("::" if v6 else "0.0.0.0", a.source))
            target = (a.address, a.port, 0, socket.if_nametoindex(a.scope)) if a.scope else (a.address, a.port)
            s.sendto(a.tag.encode(), target)
            print(f"sent {a.tag}", flush=True)
        except OSError as e:
            print(f"error {a.tag} {e.errno}", flush=True)
        """;

    /// <summary>
    /// An ICMP port unreachable quoting a UDP datagram QSOURCE:QSPORT → QDEST:QDPORT that carries TAG, sent to TO
    /// through a raw socket (CAP_NET_RAW): from this namespace's own address, or with --from SOURCE as a whole packet
    /// with that (forged) source. Prints "sent TAG" or "error TAG ERRNO".
    /// </summary>
    private const string IcmpError = """
        import argparse, socket, struct
        p = argparse.ArgumentParser()
        p.add_argument("qsource"); p.add_argument("qsport", type=int); p.add_argument("qdest"); p.add_argument("qdport", type=int)
        p.add_argument("to"); p.add_argument("tag"); p.add_argument("--from", dest="source")
        a = p.parse_args()

        def checksum(b):
            b += b"\0" * (len(b) & 1)
            t = sum(struct.unpack(f">{len(b) // 2}H", b))
            t = (t >> 16) + (t & 0xFFFF)
            return ~(t + (t >> 16)) & 0xFFFF

        def ipv4(src, dst, proto, body):
            h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 7, 0, 64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
            return h[:10] + struct.pack(">H", checksum(h)) + h[12:] + body

        payload = a.tag.encode()
        quoted = ipv4(a.qsource, a.qdest, 17, struct.pack(">HHHH", a.qsport, a.qdport, 8 + len(payload), 0) + payload)
        icmp = struct.pack(">BBHI", 3, 3, 0, 0) + quoted
        icmp = icmp[:2] + struct.pack(">H", checksum(icmp)) + icmp[4:]
        try:
            if a.source:
                s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
                s.sendto(ipv4(a.source, a.to, 1, icmp), (a.to, 0))
            else:
                s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
                s.sendto(icmp, (a.to, 0))
            print(f"sent {a.tag}", flush=True)
        except OSError as e:
            print(f"error {a.tag} {e.errno}", flush=True)
        """;

    /// <summary>
    /// A whole IPv4/UDP packet SOURCE → DESTINATION:PORT carrying TAG, handed to IFACE for MAC through a packet socket
    /// (AF_PACKET, CAP_NET_RAW): below IP, so no route and no IP hook of the namespace sees it; with a seventh argument
    /// "bypass", past the queueing discipline too (PACKET_QDISC_BYPASS). Prints "sent TAG" or "error TAG ERRNO".
    /// </summary>
    private const string Frame = """
        import socket, struct, sys
        iface, mac, source, destination, port, tag = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]

        def checksum(b):
            b += b"\0" * (len(b) & 1)
            t = sum(struct.unpack(f">{len(b) // 2}H", b))
            t = (t >> 16) + (t & 0xFFFF)
            return ~(t + (t >> 16)) & 0xFFFF

        payload = tag.encode()
        udp = struct.pack(">HHHH", 40000, port, 8 + len(payload), 0) + payload
        h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 9, 0, 64, 17, 0, socket.inet_aton(source), socket.inet_aton(destination))
        packet = h[:10] + struct.pack(">H", checksum(h)) + h[12:] + udp
        try:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
            if sys.argv[7:] == ["bypass"]:
                s.setsockopt(263, 20, 1)  # SOL_PACKET, PACKET_QDISC_BYPASS (linux/if_packet.h)
            s.sendto(packet, (iface, 0x0800, 0, 0, bytes.fromhex(mac.replace(":", ""))))
            print(f"sent {tag}", flush=True)
        except OSError as e:
            print(f"error {tag} {e.errno}", flush=True)
        """;
}
