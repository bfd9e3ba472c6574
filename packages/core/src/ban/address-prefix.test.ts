import { describe, expect, it } from 'vitest'
import { parseNetwork } from './network.js'
import { canonicalTextPrefix } from './address-prefix.js'

describe('canonicalTextPrefix', () => {
  it.each([
    ['0.0.0.0/0', ''],
    ['10.0.0.0/7', ''],
    ['10.0.0.0/8', '10.'],
    ['10.1.0.0/16', '10.1.'],
    ['10.1.2.0/23', '10.1.'],
    ['10.1.2.0/24', '10.1.2.'],
    ['2001:db8::/32', '2001:db8:'],
    ['2001:db8::/48', '2001:db8:'],
    ['2001:db8:0:5::/64', '2001:db8:'],
    ['2001:db8:1::/48', '2001:db8:1:'],
    ['::/0', ''],
    ['fe80::/10', ''],
  ])('%s → %j', (net, prefix) => expect(canonicalTextPrefix(parseNetwork(net))).toBe(prefix))
})
