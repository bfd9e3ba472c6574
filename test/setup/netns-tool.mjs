// Small network programs that the end-to-end fleet test (test/fleet-e2e.test.ts) runs inside
// its network namespaces with `ip netns exec NS node netns-tool.mjs ...`. Plain Node, no
// dependencies, so it runs as is whatever namespace it is started in.
//
//   serve SPEC_JSON
//       SPEC_JSON = {"name": "host-a", "web": ["10.213.0.11:8080", "[fd00:f2b::11]:8080"],
//                    "auth": ["10.213.0.11:2222", ...], "log": "/path/auth.log"}
//       web:  every connection gets "hello from NAME\n" and is closed (the reachability target).
//       auth: a login service that refuses everyone: every connection appends
//             "YYYY-MM-DD HH:MM:SS auth failure from PEER" (local time) to `log`, gets "denied\n"
//             and is closed.  This is the "attack": fail2ban follows that log.
//       Prints "ready" once every listener is bound; SIGTERM/SIGINT end it with exit 0.
//
//   connect SRC TIMEOUT_MS DST:PORT [DST:PORT ...]
//       One TCP connection from local address SRC to each DST:PORT, all at once.  Prints one
//       JSON line, an array of {"target", "result": "connected" | "refused" | "timeout" |
//       "error", "detail"} in the order given, and exits 0.
//
//       echo: ["10.78.1.2:7", ...]: every line received is sent back (a long-lived connection).
//
//   hold SRC DST:PORT
//       One long-lived TCP connection from SRC to an echo listener.  Prints "connected" (or
//       "failed ..."), then for every line on stdin sends it and prints "reply" when it comes
//       back within a second, "noreply" when not; "closed" when the connection ends.
//
//   relay LISTEN_ADDR:PORT UNIX_PATH
//       Forwards every TCP connection accepted on LISTEN_ADDR:PORT to the unix socket UNIX_PATH
//       (a path, so it is reachable from any network namespace).  Prints "ready".
import { appendFileSync } from 'node:fs'
import net from 'node:net'

const [command, ...args] = process.argv.slice(2)

/** "10.0.0.1:80" or "[fd00::1]:80" → { host, port } */
function hostPort(text) {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text)
  if (!m) throw new Error(`bad address ${JSON.stringify(text)}: expected HOST:PORT or [V6]:PORT`)
  return { host: m[1], port: Number(m[2]) }
}

function listen(server, text) {
  const { host, port } = hostPort(text)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port, ipv6Only: host.includes(':') }, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

const pad = (n) => String(n).padStart(2, '0')
function localTime(d = new Date()) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

function stopOnSignals(servers) {
  const stop = () => {
    for (const s of servers) s.close()
    process.exit(0)
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

async function serve(specJson) {
  const spec = JSON.parse(specJson)
  const servers = []
  for (const addr of spec.web ?? []) {
    const server = net.createServer((s) => {
      s.on('error', () => {})
      s.end(`hello from ${spec.name}\n`)
    })
    await listen(server, addr)
    servers.push(server)
  }
  for (const addr of spec.echo ?? []) {
    const server = net.createServer((s) => {
      s.on('error', () => {})
      s.pipe(s)
    })
    await listen(server, addr)
    servers.push(server)
  }
  for (const addr of spec.auth ?? []) {
    const server = net.createServer((s) => {
      s.on('error', () => {})
      appendFileSync(spec.log, `${localTime()} auth failure from ${s.remoteAddress}\n`)
      s.end('denied\n')
    })
    await listen(server, addr)
    servers.push(server)
  }
  stopOnSignals(servers)
  process.stdout.write('ready\n')
}

function connectOne(src, target, timeoutMs) {
  const { host, port } = hostPort(target)
  return new Promise((resolve) => {
    let greeting = ''
    let connected = false
    let settled = false
    const done = (result, detail) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      s.destroy()
      resolve({ target, result, detail })
    }
    const s = net.connect({ host, port, localAddress: src })
    const timer = setTimeout(() => (connected ? done('connected', greeting.trim()) : done('timeout', `no answer within ${timeoutMs} ms`)), timeoutMs)
    s.on('connect', () => (connected = true))
    s.on('data', (d) => (greeting += d.toString()))
    s.on('end', () => done('connected', greeting.trim()))
    s.on('error', (err) => (err.code === 'ECONNREFUSED' ? done('refused', err.message) : done('error', `${err.code}: ${err.message}`)))
  })
}

async function connectAll(src, timeoutMs, targets) {
  const results = await Promise.all(targets.map((t) => connectOne(src, t, Number(timeoutMs))))
  process.stdout.write(`${JSON.stringify(results)}\n`)
}

function hold(src, target) {
  const { host, port } = hostPort(target)
  const s = net.connect({ host, port, localAddress: src })
  let waiting
  s.on('connect', () => process.stdout.write('connected\n'))
  s.on('data', () => {
    if (!waiting) return
    clearTimeout(waiting)
    waiting = undefined
    process.stdout.write('reply\n')
  })
  s.on('error', (err) => process.stdout.write(`failed ${err.code}\n`))
  s.on('close', () => {
    process.stdout.write('closed\n')
    process.exit(0)
  })
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (chunk) => {
    for (const line of chunk.split('\n').filter(Boolean)) {
      s.write(`${line}\n`)
      waiting = setTimeout(() => {
        waiting = undefined
        process.stdout.write('noreply\n')
      }, 1000)
    }
  })
}

async function relay(listenAddr, unixPath) {
  const server = net.createServer((client) => {
    const upstream = net.connect(unixPath)
    for (const s of [client, upstream]) s.on('error', () => {})
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await listen(server, listenAddr)
  stopOnSignals([server])
  process.stdout.write('ready\n')
}

try {
  if (command === 'serve') await serve(args[0])
  else if (command === 'connect') await connectAll(args[0], args[1], args.slice(2))
  else if (command === 'relay') await relay(args[0], args[1])
  else if (command === 'hold') hold(args[0], args[1])
  else throw new Error(`unknown command ${JSON.stringify(command)}`)
} catch (err) {
  process.stderr.write(`netns-tool: ${err.message}\n`)
  process.exit(1)
}
