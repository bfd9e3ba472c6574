/**
 * Every path `f2b-central serve` answers (README "Serving the ban list"). A list of its own so
 * that the config schema (`serve.open`) can name them without loading the server.
 */
export const SERVE_ENDPOINTS = ['/', '/v1/bans.txt', '/fail2ban', '/v1/bans.ipset', '/v1/bans.nft', '/v1/bans.json', '/metrics', '/healthz'] as const

export type ServeEndpoint = (typeof SERVE_ENDPOINTS)[number]
