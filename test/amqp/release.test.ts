import { describe, expect, it } from "vitest";
import { moveBytes, release } from "../../src/amqp/buffer";

describe("release", () => {
  it("frees a buffer a view spans whole: the view reads empty afterwards", () => {
    const bytes = new Uint8Array(1 << 16).fill(7);
    release(bytes);
    expect(bytes.buffer.byteLength).toBe(0);
    expect(bytes.length).toBe(0);
  });

  it("leaves a buffer alone when the view is only part of it (other views may still be in use)", () => {
    const whole = new Uint8Array(100).fill(3);
    const part = whole.subarray(10, 20);
    release(part);
    expect(whole.length).toBe(100);
    expect(part.length).toBe(10);
    expect(part[0]).toBe(3);
  });
});

describe("moveBytes", () => {
  it("moves the bytes into a new buffer without copying; the old one is left empty", () => {
    const data = new Uint8Array([1, 2, 3]).buffer;
    const moved = moveBytes(data);
    expect([...new Uint8Array(moved)]).toEqual([1, 2, 3]);
    expect(data.byteLength).toBe(0);
  });
});
