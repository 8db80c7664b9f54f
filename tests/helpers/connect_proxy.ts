/**
 * A minimal HTTP proxy for tests: CONNECT tunnels (what HTTPS_PROXY uses) and
 * absolute-form plain HTTP requests (HTTP_PROXY). It records what it was asked
 * to reach and never looks inside a tunnel.
 */

/** A running proxy. */
export interface ConnectProxy {
  /** `http://127.0.0.1:PORT`, for HTTPS_PROXY / HTTP_PROXY. */
  url: string;
  /** `CONNECT host:port` targets and plain `METHOD url` requests, in order. */
  seen: string[];
  stop(): Promise<void>;
}

async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array } | undefined> {
  const buf = new Uint8Array(16 * 1024);
  let used = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(used));
    if (n === null) return undefined;
    used += n;
    const text = new TextDecoder().decode(buf.subarray(0, used));
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const headBytes = new TextEncoder().encode(text.slice(0, end + 4)).byteLength;
      return { head: text.slice(0, end), rest: buf.slice(headBytes, used) };
    }
    if (used === buf.byteLength) return undefined;
  }
}

async function pipe(from: Deno.Conn, to: Deno.Conn) {
  try {
    await from.readable.pipeTo(to.writable, { preventClose: false });
  } catch {
    // Either side closed.
  }
}

/** Starts the proxy on a free loopback port. */
export function startConnectProxy(): ConnectProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  const conns = new Set<Deno.Conn>();
  const serve = async (client: Deno.Conn) => {
    const mine = new Set<Deno.Conn>([client]);
    conns.add(client);
    try {
      const req = await readHead(client);
      if (!req) return client.close();
      const [method, target] = req.head.split("\r\n")[0].split(" ");
      let upstream: Deno.Conn;
      if (method === "CONNECT") {
        seen.push(`CONNECT ${target}`);
        const [hostname, port] = [
          target.slice(0, target.lastIndexOf(":")),
          target.slice(target.lastIndexOf(":") + 1),
        ];
        upstream = await Deno.connect({
          hostname: hostname.replace(/^\[|\]$/g, ""),
          port: Number(port),
        });
        await client.write(new TextEncoder().encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
      } else {
        seen.push(`${method} ${target}`);
        const u = new URL(target);
        upstream = await Deno.connect({ hostname: u.hostname, port: Number(u.port || 80) });
        const head = req.head.replace(`${method} ${target}`, `${method} ${u.pathname}${u.search}`);
        await upstream.write(new TextEncoder().encode(head + "\r\n\r\n"));
      }
      conns.add(upstream);
      mine.add(upstream);
      if (req.rest.byteLength) await upstream.write(req.rest);
      await Promise.all([pipe(client, upstream), pipe(upstream, client)]);
    } catch {
      // A test proxy: a broken tunnel just ends.
    } finally {
      for (const c of mine) {
        conns.delete(c);
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) serve(conn);
    } catch {
      // listener closed
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    seen,
    stop: async () => {
      listener.close();
      await accepting;
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    },
  };
}
