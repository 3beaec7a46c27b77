namespace DnsWarden.E2E.Jail;

/// <summary>The Python programs of the host proxy tests (standard library only): the far side's web server and the jail's odd clients.</summary>
internal static class HostProxyScripts
{
    public static IReadOnlyList<(string Name, string Text)> All { get; } =
    [
        ("web.py", Web),
        ("client.py", Client),
        ("h2raw.py", H2Raw),
    ];

    /// <summary>
    /// An HTTP/2 client that sends, inside TLS it validates (the jail's CA through SSL_CERT_FILE), the preface, an empty
    /// SETTINGS and a HEADERS whose block is the single byte 0x80 (indexed field 0, an HPACK decoding error); prints
    /// "goaway CODE" for the GOAWAY it gets, or "closed".
    /// </summary>
    private const string H2Raw = """
        import socket, ssl, struct, sys
        host, port = sys.argv[1], int(sys.argv[2])
        ctx = ssl.create_default_context()
        ctx.set_alpn_protocols(["h2"])
        s = ctx.wrap_socket(socket.create_connection((host, port), timeout=20), server_hostname=host)
        def frame(kind, flags, stream, payload):
            return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 5, 1, b"\x80"))
        buf = b""
        while True:
            data = s.recv(65536)
            if not data:
                print("closed")
                break
            buf += data
            while len(buf) >= 9:
                n = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + n:
                    break
                kind, payload, buf = buf[3], buf[9:9 + n], buf[9 + n:]
                if kind == 7:
                    print("goaway", int.from_bytes(payload[4:8], "big"))
                    sys.exit(0)
        """;

    /// <summary>
    /// The far side: HTTP on 80 and HTTPS on 443 at each address given, HTTP/1.1 with keep-alive, a certificate per name
    /// chosen by SNI. Logs every SNI ("SNI name" or "SNI None"), every request line with its Host, and answers
    /// "page for HOST"; an Upgrade gets a 101 and an echo of what follows.
    /// </summary>
    private const string Web = """
        import http.server, socket, ssl, sys, threading
        certs = sys.argv[1]
        names = sys.argv[2].split(",")
        addrs = sys.argv[3:]

        def log(line):
            print(line, flush=True)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a):
                pass
            def do_GET(self):
                log(f"REQ {self.requestline} HOST {self.headers.get('Host')}")
                if self.headers.get("Upgrade"):
                    self.send_response(101)
                    self.send_header("Upgrade", self.headers.get("Upgrade"))
                    self.send_header("Connection", "Upgrade")
                    self.end_headers()
                    self.wfile.flush()
                    while True:
                        data = self.connection.recv(4096)
                        if not data:
                            break
                        log(f"UPGRADED {data!r}")
                        self.connection.sendall(b"echo:" + data)
                    self.close_connection = True
                    return
                body = f"page for {self.headers.get('Host')}\n".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else self._chunked()
                log(f"REQ {self.requestline} HOST {self.headers.get('Host')} BODY {len(data)}")
                body = f"posted {len(data)} to {self.headers.get('Host')}\n".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def _chunked(self):
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            do_CONNECT = do_GET

        contexts = {}
        for name in names:
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            c.load_cert_chain(f"{certs}/{name}.pem", f"{certs}/{name}.key")
            contexts[name] = c

        def pick(sock, name, ctx):
            log(f"SNI {name}")
            if name in contexts:
                sock.context = contexts[name]

        default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        default.load_cert_chain(f"{certs}/{names[0]}.pem", f"{certs}/{names[0]}.key")
        default.sni_callback = pick

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            def __init__(self, addr, port, tls):
                self.address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
                self.tls = tls
                super().__init__((addr, port), Handler)
            def get_request(self):
                conn, peer = self.socket.accept()
                log(f"ACCEPT {self.server_address[1]} from {peer[0]}")
                if self.tls:
                    conn = default.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
                return conn, peer
            def finish_request(self, request, client_address):
                try:
                    if self.tls:
                        request.do_handshake()
                    super().finish_request(request, client_address)
                except (ssl.SSLError, OSError) as e:
                    log(f"TLSERR {e}")

        for addr in addrs:
            for port, tls in ((80, False), (443, True)):
                threading.Thread(target=Server(addr, port, tls).serve_forever, daemon=True).start()
        log("ready")
        threading.Event().wait()
        """;

    /// <summary>
    /// Odd clients run inside the jail: <c>client.py MODE HOST PORT [ARGS]</c>; prints what came back (or the error)
    /// on one line, prefixed with MODE.
    /// </summary>
    private const string Client = """
        import socket, ssl, sys, time
        mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
        args = sys.argv[4:]

        def connect():
            s = socket.create_connection((host, port), timeout=30)
            return s

        def read_response(s):
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    return data
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            while len(body) < length:
                chunk = s.recv(4096)
                if not chunk:
                    break
                body += chunk
            return head.split(b"\r\n")[0] + b" | " + body.strip()

        def out(text):
            print(f"{mode}={text}", flush=True)

        def closed(s):
            try:
                return s.recv(4096)
            except OSError as e:
                return f"error {e.__class__.__name__}".encode()

        try:
            if mode == "keepalive":
                # Two requests on one connection: the allowed Host, then another one.
                s = connect()
                s.sendall(f"GET /one HTTP/1.1\r\nHost: {args[0]}\r\n\r\n".encode())
                first = read_response(s)
                s.sendall(f"GET /two HTTP/1.1\r\nHost: {args[1]}\r\n\r\n".encode())
                second = read_response(s)
                out(f"{first.decode()} || {second.decode()}")
            elif mode == "chunked":
                # A chunked POST whose body holds a fake request line, then a second request for the allowed host.
                s = connect()
                body = f"GET / HTTP/1.1\r\nHost: {args[1]}\r\n\r\n".encode()
                s.sendall(f"POST /p HTTP/1.1\r\nHost: {args[0]}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                          + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
                first = read_response(s)
                s.sendall(f"GET /after HTTP/1.1\r\nHost: {args[0]}\r\n\r\n".encode())
                second = read_response(s)
                out(f"{first.decode()} || {second.decode()}")
            elif mode == "raw":
                # Bytes as given (\r\n escapes), then whatever comes back until the far end closes.
                s = connect()
                s.sendall(args[0].encode().decode("unicode_escape").encode("latin-1"))
                data = b""
                while True:
                    chunk = closed(s)
                    if not chunk or chunk.startswith(b"error"):
                        break
                    data += chunk
                out(data.split(b"\r\n")[0].decode(errors="replace") or "closed")
            elif mode == "garbage":
                s = connect()
                s.sendall(bytes(range(256)) * 4)
                out(closed(s).decode(errors="replace") or "closed")
            elif mode == "silent":
                s = connect()
                started = time.monotonic()
                data = closed(s)
                out(f"closed after {round(time.monotonic() - started)} s" if not data or data.startswith(b"error") else data.decode(errors="replace"))
            elif mode == "dribble":
                # A real ClientHello for args[0], sent one byte per write, then the server's first bytes.
                ctx = ssl.create_default_context(cafile=args[1])
                incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
                obj = ctx.wrap_bio(incoming, outgoing, server_hostname=args[0])
                try:
                    obj.do_handshake()
                except ssl.SSLWantReadError:
                    pass
                hello = outgoing.read()
                s = connect()
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for b in hello:
                    s.send(bytes([b]))
                    time.sleep(0.002)
                reply = s.recv(5)
                out(f"sent {len(hello)} bytes one at a time, got record type {reply[0] if reply else 'none'}")
            elif mode == "udp":
                s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(30)
                s.connect((host, port))
                s.send(b"ping")
                out(s.recv(4096).decode(errors="replace"))
            elif mode in ("bighello", "ech"):
                # bighello: a ClientHello of ~17 KB (a large key share, as post-quantum groups make), over several
                # records, in 1,000-byte writes. ech: a small one carrying an encrypted_client_hello extension, its
                # SNI the outer name. The server's first record type comes back if the proxy let it through whole.
                def u16(n): return n.to_bytes(2, "big")
                def ext(t, data): return u16(t) + u16(len(data)) + data
                name = args[0].encode()
                sni = ext(0, u16(len(name) + 3) + b"\x00" + u16(len(name)) + name)
                versions = ext(43, b"\x04\x03\x04\x03\x03")
                groups = ext(10, u16(4) + u16(0x11ec) + u16(0x001d))
                share = b"\x42" * (16384 if mode == "bighello" else 32)
                keyshare = ext(51, u16(len(share) + 4) + u16(0x11ec if mode == "bighello" else 0x001d) + u16(len(share)) + share)
                sigs = ext(13, u16(4) + u16(0x0403) + u16(0x0804))
                ech = ext(0xfe0d, b"\x00" + b"\x00\x01\x00\x01" + b"\x07" + u16(32) + bytes(32) + u16(64) + bytes(64)) if mode == "ech" else b""
                exts = sni + versions + groups + sigs + keyshare + ech
                body = b"\x03\x03" + bytes(32) + b"\x20" + bytes(32) + u16(2) + u16(0x1301) + b"\x01\x00" + u16(len(exts)) + exts
                hello = b"\x01" + len(body).to_bytes(3, "big") + body
                records = b"".join(b"\x16\x03\x01" + u16(len(hello[i:i + 7000])) + hello[i:i + 7000] for i in range(0, len(hello), 7000))
                s = connect()
                for i in range(0, len(records), 1000):
                    s.send(records[i:i + 1000])
                reply = s.recv(5)
                out(f"sent {len(hello)} bytes in {len(records) // 7000 + 1} records, got record type {reply[0] if reply else 'none'}")
            elif mode == "nosni":
                ctx = ssl.create_default_context(cafile=args[0])
                ctx.check_hostname = False
                with ctx.wrap_socket(connect()) as t:
                    out("handshake done")
            elif mode in ("tlsgarbage", "tlssilent"):
                # TLS completed with the default context (the roots the environment names), then garbage or nothing.
                ctx = ssl.create_default_context()
                with ctx.wrap_socket(connect(), server_hostname=args[0]) as t:
                    started = time.monotonic()
                    if mode == "tlsgarbage":
                        t.sendall(bytes(range(256)) * 4)
                    data = closed(t)
                    out(f"after {round(time.monotonic() - started)} s: " + (data.split(b"\r\n")[0].decode(errors="replace") if data else "closed"))
            elif mode == "websocket":
                s = connect()
                s.sendall(f"GET /ws HTTP/1.1\r\nHost: {args[0]}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".encode())
                head = b""
                while b"\r\n\r\n" not in head:
                    head += s.recv(4096)
                s.sendall(b"GET / HTTP/1.1\r\nHost: other\r\n\r\n")
                out(head.split(b"\r\n")[0].decode() + " | " + s.recv(4096).decode(errors="replace").replace("\r\n", " "))
            elif mode == "tunnel":
                # CONNECT, then a request for another host inside the tunnel: bytes the proxy no longer reads.
                s = connect()
                s.sendall(f"CONNECT {args[0]}:443 HTTP/1.1\r\nHost: {args[0]}:443\r\n\r\n".encode())
                first = read_response(s)
                s.sendall(f"GET /in-tunnel HTTP/1.1\r\nHost: {args[1]}\r\n\r\n".encode())
                second = read_response(s)
                out(f"{first.decode()} || {second.decode()}")
        except Exception as e:
            out(f"error {e.__class__.__name__}: {e}")
        """;
}
