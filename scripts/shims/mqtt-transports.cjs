// Stands in for MQTT.js's WebSocket and SOCKS transports inside the bundled programs:
// notify.mqtt.url takes only mqtt:// and mqtts:// (plain TCP and TLS), and these two pull in
// `ws` and `socks` (a quarter of the client) that no run of f2b-central would use.
'use strict'
function unsupported() {
  throw new Error('this MQTT transport is not part of f2b-central (use mqtt:// or mqtts://)')
}
module.exports = { default: unsupported, streamBuilder: unsupported, browserStreamBuilder: unsupported }
