import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readSecretFile } from '../config/secret-file.js'
import { ConfigError, F2bError } from '../errors.js'

/**
 * Read serve.tls's certificate and key (the key as a secret: mode 0600) and check they are
 * PEM and belong together, so a wrong file is a ConfigError naming its key at start, not a
 * failed handshake for every client.
 */
export function readServeTls(tls: { readonly cert: string; readonly key: string }): { cert: string; key: string } {
  let cert: string
  try {
    cert = readFileSync(tls.cert, 'utf8')
  } catch (err) {
    throw new ConfigError(`serve.tls.cert: cannot read ${tls.cert}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  let key: string
  try {
    key = readSecretFile(tls.key, 'serve.tls.key')
  } catch (err) {
    throw err instanceof F2bError ? new ConfigError(err.message, { hint: err.hint }) : err
  }
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch {
    throw new ConfigError(`serve.tls.cert: ${tls.cert} is not a PEM certificate`)
  }
  let parsedKey: ReturnType<typeof createPrivateKey>
  try {
    parsedKey = createPrivateKey(key)
  } catch {
    throw new ConfigError(`serve.tls.key: ${tls.key} is not an unencrypted PEM private key`)
  }
  if (!x509.checkPrivateKey(parsedKey)) throw new ConfigError(`serve.tls.key: ${tls.key} is not the key of the certificate in serve.tls.cert (${tls.cert})`)
  return { cert, key }
}
