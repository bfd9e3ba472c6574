/**
 * vallumd (a router's daemon that adds the address of each message on `<topic>/add` to the
 * ipset named `<topic>`, and deletes those on `<topic>/del`): the messages for a change in
 * what the fleet bans, for each of notify.vallumd.topics. The payload is the bare, canonical
 * address, as vallumd reads it. ipset's add and del are idempotent, so a message sent twice
 * (a poll that died before it committed, two publishing hosts) changes nothing.
 */
export function vallumdMessages(
  topics: readonly string[],
  change: { readonly banned: readonly string[]; readonly ended: readonly string[] },
): { topic: string; payload: string }[] {
  return topics.flatMap((topic) => [...change.banned.map((ip) => ({ topic: `${topic}/add`, payload: ip })), ...change.ended.map((ip) => ({ topic: `${topic}/del`, payload: ip }))])
}
