// Exit codes and the error type every warrenctl failure is reported through.
//
// rabbitmqctl (deps/rabbitmq_cli/lib/rabbitmq/cli/core/exit_codes.ex) uses the BSD sysexits
// codes; warrenctl uses the same ones for the same situations. rabbitmqctl has no code of its
// own for "the server refused my credentials" (its Erlang-cookie failures come out as 69, like
// an unreachable node); warrenctl reports HTTP 401/403 as sysexits' EX_NOPERM (77) so scripts
// can tell a wrong password from a broker that is down.

export const EXIT = Object.freeze({
  OK: 0,
  /** wrong number of arguments, unknown command, option or column */
  USAGE: 64,
  /** input the command or the broker rejects: bad JSON, failed validation, vhost does not exist */
  DATAERR: 65,
  /** the named user does not exist */
  NOUSER: 67,
  /** the API cannot be reached, or the object acted on does not exist */
  UNAVAILABLE: 69,
  /** the API answered something unexpected (5xx, not JSON), or the object already exists */
  SOFTWARE: 70,
  /** the request timed out (--timeout) */
  TEMPFAIL: 75,
  /** the API refused warrenctl's own credentials (HTTP 401/403) */
  NOPERM: 77,
});

/** A failure to report on stderr with a given exit code. */
export class CliError extends Error {
  /**
   * @param {string} message
   * @param {number} code
   * @param {{ heading?: boolean }} [options] heading: false prints the message alone, without
   *   the "Error:" line (as rabbitmqctl reports a missing vhost)
   */
  constructor(message, code, options = {}) {
    super(message);
    this.name = "CliError";
    this.code = code;
    this.heading = options.heading ?? true;
  }
}

/** An argument-validation failure: reported with the command's usage, exit code 64 or 65. */
export class UsageError extends CliError {
  /**
   * @param {string} message
   * @param {number} [code]
   */
  constructor(message, code = EXIT.USAGE) {
    super(message, code);
    this.name = "UsageError";
  }
}
