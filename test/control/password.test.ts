import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hashPassword, validHash, verifyPassword } from "../../src/control/password";

/** RabbitMQ's scheme, computed independently with node:crypto. */
function rabbitHash(password: string, salt: Buffer, algorithm: "sha256" | "sha512" | "md5"): string {
  const digest = createHash(algorithm)
    .update(Buffer.concat([salt, Buffer.from(password, "utf8")]))
    .digest();
  return Buffer.concat([salt, digest]).toString("base64");
}

describe("password hashes in RabbitMQ's format", () => {
  it("a new hash is base64(4-byte salt ‖ SHA-256(salt ‖ password)) and verifies", async () => {
    const hash = await hashPassword("s3cret");
    const bytes = Buffer.from(hash, "base64");
    expect(bytes.length).toBe(36);
    expect(hash).toBe(rabbitHash("s3cret", bytes.subarray(0, 4), "sha256"));
    expect(await verifyPassword("s3cret", hash, "rabbit_password_hashing_sha256")).toBe(true);
    expect(await verifyPassword("s3cret!", hash, "rabbit_password_hashing_sha256")).toBe(false);
  });

  it("salts differ, so equal passwords get different hashes", async () => {
    expect(await hashPassword("same")).not.toBe(await hashPassword("same"));
  });

  it.each(["sha256", "sha512"] as const)("hashes made by RabbitMQ with %s verify", async (alg) => {
    const hash = rabbitHash("päss wörd", Buffer.from([9, 8, 7, 6]), alg);
    expect(await verifyPassword("päss wörd", hash, `rabbit_password_hashing_${alg}`)).toBe(true);
    expect(await verifyPassword("pass word", hash, `rabbit_password_hashing_${alg}`)).toBe(false);
  });

  it("an empty hash (clear_password), garbage or an unknown algorithm never verifies", async () => {
    expect(await verifyPassword("", "", "rabbit_password_hashing_sha256")).toBe(false);
    expect(await verifyPassword("x", "not base64!!", "rabbit_password_hashing_sha256")).toBe(false);
    expect(await verifyPassword("x", rabbitHash("x", Buffer.from([1, 2, 3, 4]), "sha256"), "plaintext")).toBe(false);
    expect(await verifyPassword("x", rabbitHash("x", Buffer.from([1, 2, 3, 4]), "md5"), "rabbit_password_hashing_md5")).toBe(false);
    expect(validHash("")).toBe(true);
    expect(validHash("AAAA")).toBe(false);
    expect(validHash("!!")).toBe(false);
  });
});
