namespace DnsWarden.E2E.Security;

/// <summary>The small Python programs the security tests run inside their namespaces (no library but the standard one).</summary>
internal static class SecurityScripts
{
    public static IReadOnlyList<(string Name, string Text)> All { get; } =
    [
        ("targets.py", Targets),
        ("blackhole.py", BlackHole),
        ("fatquery.py", FatQuery),
        ("holdtcp.py", HoldTcp),
        ("flood.py", Flood),
    ];

    /// <summary>TCP listeners on one port at each address given; every connection is logged and answered "reached".</summary>
    private const string Targets = """
        import socket, sys, threading
        port = int(sys.argv[1])

        def serve(listener, addr):
            while True:
                conn, peer = listener.accept()
                print(f"accepted {addr} from {peer[0]}", flush=True)
                try:
                    conn.settimeout(2)
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\nreached\n")
                except OSError:
                    pass
                conn.close()

        for addr in sys.argv[2:]:
            s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
            s.listen(64)
            threading.Thread(target=serve, args=(s, addr), daemon=True).start()
        threading.Event().wait()
        """;

    /// <summary>
    /// A UDP upstream on port 53 that never answers a name beginning with "flood" and answers anything else with
    /// A 198.51.100.7; on SIGTERM it prints how many of each it saw.
    /// </summary>
    private const string BlackHole = """
        import signal, socket, struct, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((sys.argv[1], 53))
        counts = {"flood": 0, "answered": 0}

        def stop(*_):
            print(f"blackhole flood={counts['flood']} answered={counts['answered']}", flush=True)
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while True:
            data, peer = s.recvfrom(65535)
            i, labels = 12, []
            while i < len(data) and data[i] != 0:
                labels.append(data[i + 1:i + 1 + data[i]])
                i += 1 + data[i]
            name = b".".join(labels).decode("ascii", "replace").lower()
            if name.startswith("flood"):
                counts["flood"] += 1
                continue
            answer = data[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + data[12:i + 5]
            answer += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([198, 51, 100, 7])
            s.sendto(answer, peer)
            counts["answered"] += 1
        """;

    /// <summary>
    /// Sends one query for NAME carrying records in every section and ~3.3 KB of EDNS options (Client Subnet, a cookie,
    /// 3,000 bytes of option 65001), markers "SMUGGLED", "COOKIE01" and runs of S and X; prints what came back.
    /// </summary>
    public const string FatQuery = """
        import socket, struct, sys
        server, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]

        def wire(n):
            return b"".join(bytes([len(p)]) + p.encode() for p in n.split(".")) + b"\x00"

        txt = bytes([200]) + b"S" * 200
        options = struct.pack(">HH", 8, 7) + bytes([0, 1, 24, 0, 198, 51, 100])
        options += struct.pack(">HH", 10, 8) + b"COOKIE01"
        options += struct.pack(">HH", 65001, 3000) + b"X" * 3000
        message = struct.pack(">HHHHHH", 0xBEEF, 0x0130, 1, 1, 1, 2)
        message += wire(name) + struct.pack(">HH", 1, 1)
        message += wire("smuggled.example") + struct.pack(">HHIH", 1, 1, 1, 4) + bytes([198, 51, 100, 66])
        message += wire("secret.example") + struct.pack(">HHIH", 16, 1, 1, len(txt)) + txt
        message += wire("more.example") + struct.pack(">HHIH", 16, 1, 1, len(txt)) + txt
        message += b"\x00" + struct.pack(">HHIH", 41, 4096, 0x8000, len(options)) + options
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.sendto(message, (server, port))
        data = s.recv(65535)
        rid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", data[:12])
        print(f"sent {len(message)} answer id={rid:#06x} rcode={flags & 15} ancount={an} len={len(data)}", flush=True)
        """;

    /// <summary>
    /// Sends COUNT queries for distinct names floodN.sec.test to SERVER:PORT as fast as it can, never waiting for an
    /// answer (as a flood does), counting the answers by RCODE on a second thread; prints "sent N" when done sending
    /// and the counts on SIGTERM.
    /// </summary>
    private const string Flood = """
        import signal, socket, struct, sys, threading
        server, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.connect((server, port))
        rcodes = {}

        def receive():
            while True:
                try:
                    data = s.recv(4096)
                except OSError:
                    continue
                if len(data) >= 4:
                    rcodes[data[3] & 15] = rcodes.get(data[3] & 15, 0) + 1

        def stop(*_):
            print(f"received servfail={rcodes.get(2, 0)} noerror={rcodes.get(0, 0)} total={sum(rcodes.values())}", flush=True)
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)
        threading.Thread(target=receive, daemon=True).start()
        for i in range(count):
            name = b"".join(bytes([len(p)]) + p for p in f"flood{i}.sec.test".encode().split(b".")) + b"\x00"
            s.send(struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01")
        print(f"sent {count}", flush=True)
        signal.pause()
        """;

    /// <summary>Opens COUNT TCP connections to SERVER:PORT from SOURCE and holds them, idle, until killed.</summary>
    private const string HoldTcp = """
        import resource, signal, socket, sys
        resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
        server, port, source, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
        held = []
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((source, 0))
            s.settimeout(5)
            try:
                s.connect((server, port))
                held.append(s)
            except OSError:
                s.close()
        print(f"connected {len(held)}", flush=True)
        signal.pause()
        """;
}
