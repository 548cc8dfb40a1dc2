import { describe, expect, it } from "vitest";
import { atom, erlangFloat, int, pretty, str, text, tuple, write } from "../../src/core/erlang-terms";
import { checkPublishable, expirationProblem, parseExpiration } from "../../src/core/publisher";
import { BrokerError } from "../../src/core/errors";

describe("Erlang terms as RabbitMQ prints them (io_lib ~p)", () => {
  // Expected: io_lib:format("~p", [X]) on the Erlang that runs RabbitMQ 3.10.8 (OTP 25).
  it.each([
    [0.1, "0.1"],
    [0.5, "0.5"],
    [100, "100.0"],
    [1000, "1.0e3"],
    [12345, "12345.0"],
    [123456789, "123456789.0"],
    [1e15, "1.0e15"],
    [1e16, "1.0e16"],
    [1e21, "1.0e21"],
    [1e-4, "0.0001"],
    [1e-5, "1.0e-5"],
    [1.25e-3, "0.00125"],
    [10000000000.5, "10000000000.5"],
    [5e-324, "5.0e-324"],
    [1.7976931348623157e308, "1.7976931348623157e308"],
    [0.30000000000000004, "0.30000000000000004"],
    [2.5e-10, "2.5e-10"],
    [123.456, "123.456"],
    [99999, "99999.0"],
    [100000, "1.0e5"],
    [1234567, "1234567.0"],
    [-0, "-0.0"],
    [0, "0.0"],
    [-1.5, "-1.5"],
    [0.000123, "1.23e-4"],
    [Math.fround(0.1), "0.10000000149011612"],
  ])("float %d → %s", (x, expected) => {
    expect(erlangFloat(x)).toBe(expected);
  });

  it("strings: printable ones quoted and escaped, others as a list of integers; [] when empty", () => {
    expect(write(str('a\nb"c\\'))).toBe('"a\\nb\\"c\\\\"');
    expect(write(str("\x1b\t\v\b\f\r"))).toBe('"\\e\\t\\v\\b\\f\\r"');
    expect(text(write(str("ü")))).toBe('"ü"');
    expect(write(str("€"))).toBe("[226,130,172]");
    expect(write(str("\u0001"))).toBe("[1]");
    expect(write(str("\u007f"))).toBe("[127]");
    expect(write(str(""))).toBe("[]");
    expect(write(tuple(atom("leftover_string"), str("abc")))).toBe('{leftover_string,"abc"}');
    expect(write(int(-12345678901234567890n))).toBe("-12345678901234567890");
  });

  it("pretty: a tagged tuple that does not fit goes on the next line, aligned as io_lib_pretty does", () => {
    // io_lib:format(Prefix ++ "~p", [Term]) with a prefix of 41 and 42 characters.
    const term = tuple(atom("leftover_string"), str("a".repeat(17)));
    expect(pretty(term, 42)).toBe(`{leftover_string,"${"a".repeat(17)}"}`);
    expect(pretty(term, 43)).toBe(`{leftover_string,\n${" ".repeat(43)}"${"a".repeat(17)}"}`);
    // Left of the middle of the line, the element stays after the tag.
    expect(pretty(tuple(atom("leftover_string"), str("a".repeat(100))), 4)).toBe(`{leftover_string,"${"a".repeat(100)}"}`);
  });
});

describe("the expiration property (rabbit_basic:parse_expiration)", () => {
  // Texts captured from RabbitMQ 3.10.8 (basic.publish with this expiration → channel.close 406).
  it.each([
    ["abc", "invalid expiration 'abc': no_integer"],
    ["", "invalid expiration '': no_integer"],
    [" 5", "invalid expiration ' 5': no_integer"],
    ["-", "invalid expiration '-': no_integer"],
    ["+-5", "invalid expiration '+-5': no_integer"],
    ["ü", "invalid expiration 'ü': no_integer"],
    ["-1", "invalid expiration '-1': {value_negative,-1}"],
    ["10abc", "invalid expiration '10abc': {leftover_string,\"abc\"}"],
    ["-5x", "invalid expiration '-5x': {leftover_string,\"x\"}"],
    ["1.5", "invalid expiration '1.5': {leftover_string,\".5\"}"],
    ["5 ", "invalid expiration '5 ': {leftover_string,\" \"}"],
    ["1e3", "invalid expiration '1e3': {leftover_string,\"e3\"}"],
    ["0x10", "invalid expiration '0x10': {leftover_string,\"x10\"}"],
    ["1ü", "invalid expiration '1ü': {leftover_string,\"ü\"}"],
    ["1\u0001", "invalid expiration '1\u0001': {leftover_string,[1]}"],
    ['1\n"\\', 'invalid expiration \'1\n"\\\': {leftover_string,"\\n\\"\\\\"}'],
    ["315360000001", "invalid expiration '315360000001': {value_too_large,315360000001}"],
    ["999999999999999999", "invalid expiration '999999999999999999': {value_too_large,999999999999999999}"],
    ["9999999999999999999", `invalid expiration '9999999999999999999': {value_too_large,\n${" ".repeat(43)}9999999999999999999}`],
    [
      "12345678901234567890123",
      `invalid expiration '12345678901234567890123': {value_too_large,\n${" ".repeat(47)}12345678901234567890123}`,
    ],
    [`1${"a".repeat(17)}`, `invalid expiration '1${"a".repeat(17)}': {leftover_string,"${"a".repeat(17)}"}`],
    [`1${"a".repeat(18)}`, `invalid expiration '1${"a".repeat(18)}': {leftover_string,\n${" ".repeat(43)}"${"a".repeat(18)}"}`],
    // Columns count UTF-8 bytes, as RabbitMQ 3.10 does.
    [
      `1${"ü".repeat(8)}${"a".repeat(8)}`,
      `invalid expiration '1${"ü".repeat(8)}${"a".repeat(8)}': {leftover_string,\n${" ".repeat(49)}"${"ü".repeat(8)}${"a".repeat(8)}"}`,
    ],
  ])("%j → %s", (expiration, text) => {
    expect(expirationProblem(expiration)).toBe(text);
  });

  it.each(["0", "00", "-0", "+5", "60000", "315360000000"])("%j is accepted", (expiration) => {
    expect(expirationProblem(expiration)).toBeNull();
    expect(parseExpiration(expiration)).toEqual({ ms: Math.abs(Number(expiration)) });
  });

  it("checkPublishable refuses it with 406, after the size and before user_id (RabbitMQ's order)", () => {
    const refusal = (f: () => void) => {
      try {
        f();
      } catch (err) {
        return err instanceof BrokerError ? `${err.code} ${err.text}` : String(err);
      }
      return null;
    };
    expect(refusal(() => checkPublishable(10, undefined, "u", 100, false, "abc"))).toBe("406 invalid expiration 'abc': no_integer");
    expect(refusal(() => checkPublishable(10, "other", "u", 100, false, "abc"))).toBe("406 invalid expiration 'abc': no_integer");
    expect(refusal(() => checkPublishable(1000, undefined, "u", 100, false, "abc"))).toBe(
      "406 message size 1000 is larger than configured max size 100",
    );
    expect(refusal(() => checkPublishable(10, undefined, "u", 100, false, "5"))).toBeNull();
    expect(refusal(() => checkPublishable(10, undefined, "u", 100, false))).toBeNull();
  });
});
