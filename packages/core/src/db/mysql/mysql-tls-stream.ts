import { connect as netConnect, isIP } from 'node:net'
import { Duplex } from 'node:stream'
import { checkServerIdentity, connect as tlsConnect, type TLSSocket } from 'node:tls'

export interface MysqlTlsStreamOptions {
  /** Where to connect. */
  readonly host: string
  readonly port: number
  /** The name or address the server's certificate must carry (tls.checkServerIdentity); sent as SNI when it is a name. */
  readonly checkedName: string
  /** PEM texts; `ca` undefined trusts Node's bundled public CAs. */
  readonly ca: string | undefined
  readonly cert: string | undefined
  readonly key: string | undefined
  /** false: any certificate, any name (still encrypted, open to a man in the middle): for testing only. */
  readonly rejectUnauthorized: boolean
}

/** A MySQL/MariaDB error code for what failed, as mysql2 would name it (tlsFailure in mysql-database.ts reads it). */
export type MysqlTlsErrorCode = 'HANDSHAKE_SSL_ERROR' | 'HANDSHAKE_NO_SSL_SUPPORT' | 'PROTOCOL_UNEXPECTED_PACKET'

// Capability flag of the client and server handshake packets: "switch to TLS".
const CLIENT_SSL = 0x800
const HEADER = 4
// Protocol::SSLRequest: capability flags (4), max packet size (4), character set (1), 23
// reserved bytes (MariaDB: its extended capabilities in the last 4): the start of the response.
const SSL_REQUEST_LENGTH = 32

/**
 * A connection to a MySQL/MariaDB server that f2b-central switches to TLS itself, for mysql2's
 * `stream` option. mysql2 checks a certificate's name only against a host *name* (for an
 * address it leaves the check to Node's private fallback, `socket._host`, else "localhost"),
 * and it passes no `checkServerIdentity` of ours to tls.connect. So mysql2 is configured
 * without `ssl` and speaks the protocol in the clear to this stream, which does the upgrade
 * the way every client does (MySQL protocol, "SSL handshake"):
 *
 * 1. the server's greeting goes to mysql2 as it is (after checking that it offers TLS);
 * 2. mysql2's handshake response, which carries the credentials, is held back; its first 32
 *    bytes (capabilities, with CLIENT_SSL set, and MariaDB's extended ones), go to the server
 *    as the SSLRequest;
 * 3. tls.connect on the same socket, the name checked explicitly with
 *    `tls.checkServerIdentity(checkedName, cert)`: an address against the certificate's IP
 *    subjectAltNames, a name against its DNS names;
 * 4. only then the held response (CLIENT_SSL set) goes to the server, inside TLS.
 *
 * The SSLRequest takes a sequence number, so until the server's OK (or ERR) ends the
 * authentication, packets from the server reach mysql2 one number lower and mysql2's reach
 * the server one higher; after that (every command starts again at 0) bytes pass as they are.
 */
export function openMysqlTlsStream(o: MysqlTlsStreamOptions): Duplex {
  const tcp = netConnect({ host: o.host, port: o.port, noDelay: true, keepAlive: true })
  let secure: TLSSocket | undefined
  let phase: 'greeting' | 'response' | 'handshake' | 'auth' | 'open' = 'greeting'
  let fromServer: Buffer = Buffer.alloc(0)
  let fromClient: Buffer = Buffer.alloc(0)

  const stream = new Duplex({
    // Data is pushed as it arrives; mysql2 pauses and resumes the stream itself.
    read() {},
    write(chunk: Buffer, _encoding, done) {
      try {
        fromMysql2(chunk)
        done()
      } catch (err) {
        done(err as Error)
      }
    },
    final(done) {
      ;(secure ?? tcp).end()
      done()
    },
    destroy(err, done) {
      secure?.destroy()
      tcp.destroy()
      done(err)
    },
  })
  const fail = (err: Error): void => {
    stream.destroy(err)
  }

  const fromTcp = (chunk: Buffer) => {
    fromServer = Buffer.concat([fromServer, chunk])
    const greeting = takePacket(fromServer)
    if (greeting === undefined) return
    fromServer = fromServer.subarray(greeting.length)
    tcp.off('data', fromTcp)
    const problem = greetingProblem(greeting)
    if (problem === 'refused') {
      // An ERR packet instead of a greeting (too many connections, host blocked): mysql2 reports it.
      phase = 'open'
      stream.push(greeting)
      if (fromServer.length > 0) stream.push(fromServer)
      tcp.on('data', (more: Buffer) => stream.push(more))
      return
    }
    if (problem !== undefined) {
      fail(problem)
      return
    }
    phase = 'response'
    stream.push(greeting)
  }

  function fromMysql2(chunk: Buffer): void {
    if (phase === 'open') {
      ;(secure ?? tcp).write(chunk)
      return
    }
    fromClient = Buffer.concat([fromClient, chunk])
    for (;;) {
      if (phase !== 'response' && phase !== 'auth') return
      const packet = takePacket(fromClient)
      if (packet === undefined) return
      fromClient = fromClient.subarray(packet.length)
      if (phase === 'response') startTls(Buffer.from(packet))
      else secure!.write(renumber(packet, +1))
    }
  }

  function startTls(response: Buffer): void {
    if (response.length < HEADER + SSL_REQUEST_LENGTH) {
      fail(protocolError("the client's handshake response is too short"))
      return
    }
    const caps = (response.readUInt32LE(HEADER) | CLIENT_SSL) >>> 0
    const request = Buffer.alloc(HEADER + SSL_REQUEST_LENGTH)
    request.writeUIntLE(SSL_REQUEST_LENGTH, 0, 3)
    request[3] = response[3]!
    // The response's own first 32 bytes: max packet size, character set, and in the reserved
    // part MariaDB's extended capabilities, which MariaDB takes from this packet.
    response.copy(request, HEADER, HEADER, HEADER + SSL_REQUEST_LENGTH)
    request.writeUInt32LE(caps, HEADER)
    response.writeUInt32LE(caps, HEADER)
    const held = renumber(response, +1)
    phase = 'handshake'
    tcp.write(request)
    const name = o.checkedName
    secure = tlsConnect({
      socket: tcp,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      rejectUnauthorized: o.rejectUnauthorized,
      // SNI takes names only (RFC 6066); an address is checked all the same.
      servername: isIP(name) === 0 ? name : undefined,
      checkServerIdentity: (_servername, cert) => checkServerIdentity(name, cert),
    })
    secure.once('secureConnect', () => {
      phase = 'auth'
      secure!.write(held)
      if (fromClient.length > 0) fromMysql2(Buffer.alloc(0))
    })
    secure.on('data', fromTls)
    secure.on('end', () => stream.push(null))
    secure.on('close', () => stream.destroy())
    secure.on('error', (err: NodeJS.ErrnoException) => fail(phase === 'handshake' ? tlsError(err) : err))
  }

  function fromTls(chunk: Buffer): void {
    if (phase === 'open') {
      stream.push(chunk)
      return
    }
    fromServer = Buffer.concat([fromServer, chunk])
    for (;;) {
      const packet = takePacket(fromServer)
      if (packet === undefined) return
      fromServer = fromServer.subarray(packet.length)
      const marker = packet[HEADER]
      // OK or ERR: authentication is over, and so is renumbering. Decided before the push:
      // mysql2 may read the OK and write its first command within push().
      if (marker !== 0x00 && marker !== 0xff) {
        stream.push(renumber(Buffer.from(packet), -1))
        continue
      }
      phase = 'open'
      const rest = fromServer
      const pending = fromClient
      fromServer = Buffer.alloc(0)
      fromClient = Buffer.alloc(0)
      if (pending.length > 0) secure!.write(pending)
      stream.push(renumber(Buffer.from(packet), -1))
      if (rest.length > 0) stream.push(rest)
      return
    }
  }

  tcp.on('data', fromTcp)
  tcp.on('error', (err) => fail(err))
  tcp.on('end', () => {
    if (secure === undefined) stream.push(null)
  })
  tcp.on('close', () => {
    if (secure === undefined) stream.destroy()
  })
  return stream
}

/** The first whole packet at the start of `buf` (header included), or undefined while it is incomplete. */
function takePacket(buf: Buffer): Buffer | undefined {
  if (buf.length < HEADER) return undefined
  const length = HEADER + buf.readUIntLE(0, 3)
  return buf.length < length ? undefined : buf.subarray(0, length)
}

function renumber(packet: Buffer, by: 1 | -1): Buffer {
  packet[3] = (packet[3]! + by + 256) % 256
  return packet
}

// Protocol::HandshakeV10: protocol version (10), server version (NUL-terminated), connection id (4),
// auth data (8), filler (1), then the lower two bytes of the capability flags.
function greetingProblem(packet: Buffer): Error | 'refused' | undefined {
  const payload = packet.subarray(HEADER)
  if (payload[0] === 0xff) return 'refused'
  const versionEnd = payload.indexOf(0, 1)
  const capsAt = versionEnd + 1 + 4 + 8 + 1
  if (payload[0] !== 10 || versionEnd < 0 || payload.length < capsAt + 2) return protocolError("the server's greeting is not a MySQL protocol 10 handshake")
  if ((payload.readUInt16LE(capsAt) & CLIENT_SSL) === 0) return withCode(new Error('the server does not offer TLS'), 'HANDSHAKE_NO_SSL_SUPPORT')
  return undefined
}

function tlsError(err: NodeJS.ErrnoException): Error {
  return withCode(new Error(err.message, { cause: err }), 'HANDSHAKE_SSL_ERROR')
}

function protocolError(message: string): Error {
  return withCode(new Error(message), 'PROTOCOL_UNEXPECTED_PACKET')
}

function withCode(err: Error, code: MysqlTlsErrorCode): Error {
  return Object.assign(err, { code })
}
