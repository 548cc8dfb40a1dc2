export interface Credentials {
  username: string;
  password: string;
}

/** Users known to the broker: a single built-in guest until user management lands. */
const USERS: ReadonlyMap<string, string> = new Map([["guest", "guest"]]);

export function checkPassword(c: Credentials): boolean {
  const expected = USERS.get(c.username);
  return expected !== undefined && expected === c.password;
}
