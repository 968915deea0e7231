import { existsSync, writeFileSync, appendFileSync } from 'node:fs';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';

/** Where Debian's mosquitto package puts `mosquitto_passwd`, if it is installed. */
export const mosquittoPasswdBinary = (): string | undefined =>
  ['/usr/bin/mosquitto_passwd', '/usr/sbin/mosquitto_passwd', '/usr/local/bin/mosquitto_passwd'].find((p) =>
    existsSync(p),
  );

/**
 * One line of a Mosquitto 2.x password file in its default format `$7$`: PBKDF2-HMAC-SHA512, 101
 * iterations, a 12-byte salt and a 64-byte hash, both base64: `user:$7$101$<salt>$<hash>`.
 */
export function mosquittoPasswordLine(user: string, password: string, salt: Buffer = randomBytes(12)): string {
  if (user.includes(':')) throw new Error(`a Mosquitto user name cannot contain ":" (${user})`);
  const iterations = 101;
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return `${user}:$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * Writes a Mosquitto password file for `users` (user → password): with `mosquitto_passwd -b` when it is
 * installed, else each line hashed here in the same format. Users listed in `hashHere` are always hashed
 * here (so a test can prove the two agree against the real broker). Returns how each user was written.
 */
export function writePasswordFile(
  file: string,
  users: Record<string, string>,
  hashHere: string[] = [],
): Record<string, 'mosquitto_passwd' | 'node'> {
  writeFileSync(file, '', { mode: 0o600 });
  const tool = mosquittoPasswdBinary();
  const how: Record<string, 'mosquitto_passwd' | 'node'> = {};
  for (const [user, password] of Object.entries(users)) {
    if (tool && !hashHere.includes(user)) {
      const r = spawnSync(tool, ['-b', file, user, password], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mosquitto_passwd failed for ${user}: ${r.stderr || r.error?.message}`);
      how[user] = 'mosquitto_passwd';
    } else {
      appendFileSync(file, `${mosquittoPasswordLine(user, password)}\n`);
      how[user] = 'node';
    }
  }
  return how;
}
