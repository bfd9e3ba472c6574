/** What every listing of a stored ban says about it. Times are ISO 8601 UTC. */
export interface BanFields {
  readonly jail: string
  readonly protocol: string
  readonly port: string
  /** The reporting host's name. */
  readonly reporter: string
  readonly bantime: number
  readonly createdAt: string
  /** null: permanent. */
  readonly expiresAt: string | null
}
