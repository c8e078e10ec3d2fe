/** etcd authentication: a user name and its password (never logged, never in an error). */
export interface EtcdCredentials {
  user: string
  password: string
}

export type TokenOutcome = { token: string } | { failed: string } | { refused: string }

interface Entry {
  pending: Promise<TokenOutcome>
  token?: string
}

/**
 * The auth token of each member, asked for once however many requests wait on it. Per member
 * because etcd's default `simple` tokens live in the memory of the member that issued them (a
 * JWT would do for every member; keeping them apart costs one authentication per member used).
 * A failed authentication is not kept: the next request asks again.
 */
export class EtcdTokens {
  private readonly entries = new Map<string, Entry>()
  private readonly authenticate: (endpoint: string) => Promise<TokenOutcome>

  constructor(authenticate: (endpoint: string) => Promise<TokenOutcome>) {
    this.authenticate = authenticate
  }

  get(endpoint: string): Promise<TokenOutcome> {
    const known = this.entries.get(endpoint)
    if (known) return known.pending
    const entry: Entry = { pending: this.authenticate(endpoint) }
    this.entries.set(endpoint, entry)
    void entry.pending.then((outcome) => {
      if ('token' in outcome) entry.token = outcome.token
      else if (this.entries.get(endpoint) === entry) this.entries.delete(endpoint)
    })
    return entry.pending
  }

  /**
   * `token` was rejected: the next get() authenticates again, unless another request already
   * replaced it (then its fresher token, or the authentication under way, is kept).
   */
  forget(endpoint: string, token: string): void {
    if (this.entries.get(endpoint)?.token === token) this.entries.delete(endpoint)
  }
}
