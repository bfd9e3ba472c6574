// Stands in for mysql2's table of server error names (lib/constants/errors.js): building its
// few thousand properties costs every add2db run milliseconds, and it is read only when the
// server reports an error. This builds it on the first read instead.
'use strict'
let table
module.exports = new Proxy({}, { get: (_, name) => (table ??= require('mysql2-error-table'))[name] })
