// Stands in for iconv-lite inside the bundled programs. mysql2 asks iconv-lite only for
// encodings Node's Buffer does not know. f2b-central always connects with charset utf8mb4
// (packages/core/src/db/mysql/mysql-database.ts); the one other encoding the server then
// uses is CESU-8 (its utf8mb3 metadata), implemented here. Everything else is refused
// loudly. This keeps 500 kB of code tables out of every add2db start.
'use strict'

const SURROGATE = /[\uD800-\uDFFF]/

// CESU-8: UTF-8, except that characters above U+FFFF are two 3-byte encoded surrogates.
function decodeCesu8(buf) {
  if (!buf.includes(0xed)) return buf.toString('utf8')
  let out = ''
  for (let i = 0; i < buf.length; ) {
    const b0 = buf[i]
    if (b0 < 0x80) {
      out += String.fromCharCode(b0)
      i += 1
    } else if (b0 >= 0xc0 && b0 < 0xe0 && i + 1 < buf.length) {
      out += String.fromCharCode(((b0 & 0x1f) << 6) | (buf[i + 1] & 0x3f))
      i += 2
    } else if (b0 >= 0xe0 && b0 < 0xf0 && i + 2 < buf.length) {
      out += String.fromCharCode(((b0 & 0x0f) << 12) | ((buf[i + 1] & 0x3f) << 6) | (buf[i + 2] & 0x3f))
      i += 3
    } else if (b0 >= 0xf0 && i + 3 < buf.length) {
      out += buf.toString('utf8', i, i + 4)
      i += 4
    } else {
      out += '\ufffd'
      i += 1
    }
  }
  return out
}

function encodeCesu8(str) {
  if (!SURROGATE.test(str)) return Buffer.from(str, 'utf8')
  const bytes = []
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i)
    if (c < 0x80) bytes.push(c)
    else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f))
    else bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f))
  }
  return Buffer.from(bytes)
}

function isCesu8(encoding) {
  return (
    String(encoding)
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '') === 'cesu8'
  )
}

function unsupported(encoding) {
  throw new Error(`character set ${encoding} is not supported: f2b-central connects with utf8mb4`)
}

module.exports = {
  getDecoder(encoding) {
    if (!isCesu8(encoding)) unsupported(encoding)
    return { write: decodeCesu8, end: () => '' }
  },
  getEncoder(encoding) {
    if (!isCesu8(encoding)) unsupported(encoding)
    return { write: encodeCesu8, end: () => Buffer.alloc(0) }
  },
  decode: (buf, encoding) => (isCesu8(encoding) ? decodeCesu8(buf) : unsupported(encoding)),
  encode: (str, encoding) => (isCesu8(encoding) ? encodeCesu8(str) : unsupported(encoding)),
  encodingExists: isCesu8,
}
