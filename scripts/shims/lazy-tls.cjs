// Stands in for `tls` where mysql2 requires it at start. Loading tls costs every add2db run
// several milliseconds, and only TLS connections (database.tls) use it: this loads it on the
// first use instead.
'use strict'
let tls
module.exports = new Proxy({}, { get: (_, name) => (tls ??= require('node:tls'))[name] })
