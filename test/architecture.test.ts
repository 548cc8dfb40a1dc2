// The layer rules of src/, enforced by reading the sources (no workerd involved). The checks
// live in ./architecture-rules.ts; the rules themselves are the LAYER_RULES table there.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  LAYER_RULES,
  badDurableObjectNames,
  badFileNames,
  collectImports,
  layerViolations,
  parseImports,
  readSourceTree,
  resolveSpecifier,
  runtimeCycles,
  unresolvedImports,
} from "./architecture-rules";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

describe("src/ keeps its layer rules", () => {
  const files = readSourceTree(ROOT);
  const imports = collectImports(files);

  it("reads the tree (so the rules below cannot pass by finding nothing)", () => {
    expect([...files.keys()].filter((f) => f.startsWith("src/amqp/")).length).toBeGreaterThan(5);
    expect(imports.filter((imp) => imp.target !== null).length).toBeGreaterThan(50);
  });

  it("every relative import names a .ts file under src/", () => {
    expect(unresolvedImports(imports)).toEqual([]);
  });

  for (const rule of LAYER_RULES) {
    it(rule.name, () => {
      expect(layerViolations(imports, rule), `offending imports (${rule.name})`).toEqual([]);
    });
  }

  it("no cycle among runtime imports (type-only imports are erased and do not count)", () => {
    expect(runtimeCycles(imports), "runtime import cycles, one path per cycle").toEqual([]);
  });

  it("file names are kebab-case .ts names; Durable Object classes are named …DO", () => {
    expect([...badFileNames(files.keys()), ...badDurableObjectNames(files)]).toEqual([]);
  });
});

// ---- the checker checked: a small tree with one offence of each kind

/** "file specifier" for each offence line, to compare without line numbers and wording. */
const offences = (lines: string[]) => lines.map((l) => /^(\S+?):\d+ \S+ "([^"]*)"/.exec(l)?.slice(1).join(" ") ?? l).sort();

const FIXTURE = new Map<string, string>(
  Object.entries({
    "src/env.ts": "export interface Env {}",
    "src/amqp/util.ts": "export const helper = 1;",
    "src/amqp/codec.ts": [
      'import { helper } from "./util";',
      'import type * as self from ".";',
      'import { Broker } from "../core/broker";',
      'import type { Env } from "../env";',
      'import { randomUUID } from "node:crypto";',
      'import { DurableObject } from "cloudflare:workers";',
      'import "hono";',
    ].join("\n"),
    "src/amqp/index.ts": 'export * from "./codec";',
    "src/core/broker.ts": 'import type { Channel } from "../session/channel";\nexport class Broker {}',
    "src/core/uses-amqp.ts": 'import { helper } from "../amqp/util";\nexport const ok = helper;',
    "src/core/names.ts": "export const names = 1;",
    // A cycle of type-only imports, one way or another: erased, so not a cycle.
    "src/core/a.ts": 'import type { B } from "./b";\nexport interface A { b?: B }',
    "src/core/b.ts": 'import { type A } from "./a";\nexport type { A as Alias } from "./a";\nexport interface B { a?: A }',
    "src/queue/message-store.ts": "export const store = 1;",
    "src/queue/queue-do.ts": [
      'import { DurableObject } from "cloudflare:workers";',
      'import { app } from "../http/app";',
      "export class QueueDO extends DurableObject<Env> {}",
    ].join("\n"),
    "src/exchange/exchange-do.ts": [
      'import { DurableObject } from "cloudflare:workers";',
      'import { type Channel } from "../session/channel";',
      "export class Exchange extends DurableObject<Env> {}",
      "class Helper extends DurableObject<Env> {}",
    ].join("\n"),
    "src/storage/rows.ts": [
      'import { store } from "../queue/message-store";',
      'import { names } from "../core/names";',
      'import type { X } from "../session/connection";',
      'import { gone } from "./missing";',
    ].join("\n"),
    "src/http/app.ts": "export const app = 1;",
    // A runtime cycle through an import, an index, an export-from and a dynamic import.
    "src/session/connection.ts": 'import { Channel } from "./channel";\nexport const x = 1;',
    "src/session/channel.ts": 'import { HANDLERS } from "./handlers";\nexport class Channel {}',
    "src/session/handlers/index.ts": 'export { basic } from "./basic";',
    "src/session/handlers/basic.ts": 'export const basic = () => import("../connection");',
    "src/session/BadName.ts": "",
    "src/session/snake_case.ts": "",
    "src/session/notes.md": "",
  }),
);

describe("the architecture checker, on a small tree with every kind of offence", () => {
  const imports = collectImports(FIXTURE);
  const [amqpRule, coreRule, domainRule, storageRule] = LAYER_RULES.map((rule) => offences(layerViolations(imports, rule)));

  it("a. amqp/ importing another folder (types too), a package, node:* or cloudflare:*", () => {
    expect(amqpRule).toEqual(
      [
        "src/amqp/codec.ts ../core/broker",
        "src/amqp/codec.ts ../env",
        "src/amqp/codec.ts node:crypto",
        "src/amqp/codec.ts cloudflare:workers",
        "src/amqp/codec.ts hono",
      ].sort(),
    );
  });

  it("b. core/ importing session/ (a type-only import counts)", () => {
    expect(coreRule).toEqual(["src/core/broker.ts ../session/channel"]);
  });

  it("c. queue/, exchange/, storage/ importing session/ or http/", () => {
    expect(domainRule).toEqual(
      [
        "src/exchange/exchange-do.ts ../session/channel",
        "src/queue/queue-do.ts ../http/app",
        "src/storage/rows.ts ../session/connection",
      ].sort(),
    );
  });

  it("d. storage/ importing queue/, core/, session/", () => {
    expect(storageRule).toEqual(
      [
        "src/storage/rows.ts ../core/names",
        "src/storage/rows.ts ../queue/message-store",
        "src/storage/rows.ts ../session/connection",
      ].sort(),
    );
  });

  it("e. a runtime cycle is reported as one path; the type-only cycle core/a ↔ core/b is not", () => {
    expect(runtimeCycles(imports)).toEqual([
      "src/session/channel.ts → src/session/handlers/index.ts → src/session/handlers/basic.ts → src/session/connection.ts → src/session/channel.ts",
    ]);
  });

  it("f. file names that are not kebab-case .ts, and a Durable Object class not named …DO", () => {
    expect(badFileNames(FIXTURE.keys()).map((l) => l.split(":")[0])).toEqual([
      "src/session/BadName.ts",
      "src/session/snake_case.ts",
      "src/session/notes.md",
    ]);
    // Helper is not exported, so it is not a Durable Object binding and its name is free.
    expect(badDurableObjectNames(FIXTURE).map((l) => l.replace(/ extends.*/, ""))).toEqual([
      "src/exchange/exchange-do.ts:3 class Exchange",
    ]);
  });

  it("a relative import of a missing file", () => {
    expect(offences(unresolvedImports(imports))).toEqual(["src/storage/rows.ts ./missing"]);
  });

  it("resolves foo to foo.ts or foo/index.ts, and foo.js to foo.ts", () => {
    const names = new Set(["src/a/b.ts", "src/a/c/index.ts", "src/d.ts"]);
    expect(resolveSpecifier("src/a/x.ts", "./b", names)).toBe("src/a/b.ts");
    expect(resolveSpecifier("src/a/x.ts", "./c", names)).toBe("src/a/c/index.ts");
    expect(resolveSpecifier("src/a/x.ts", "../d.js", names)).toBe("src/d.ts");
    expect(resolveSpecifier("src/a/x.ts", "./nope", names)).toBeNull();
    expect(resolveSpecifier("src/a/x.ts", "node:fs", names)).toBeNull();
  });

  it("finds every import form, tells type-only from runtime, and ignores comments, strings, templates and regexes", () => {
    const source = [
      '// import { no } from "./line-comment";',
      '/* import { no } from "./block-comment"; */',
      "const s = \"import { no } from './string'\";",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal, placeholders included
      'const t = `import x from "./template" ${await import("./in-template")} ${{ a: "}" }.a}`;',
      'const r = /import "\\.\\/regex"/g;',
      'const half = 1 / 2; const slash = "/";',
      'import def, { type A, b } from "./mixed";',
      'import type Whole from "./whole-type";',
      'import type from "./binding-named-type";',
      'import { type C, type D as E } from "./all-typed";',
      'import {} from "./empty-braces";',
      'import * as ns from "./namespace";',
      'import "./side-effect";',
      "import {",
      "  f,",
      "  g,",
      '} from "./multi-line";',
      'export * from "./star";',
      'export type * from "./star-type";',
      'export * as star from "./star-as";',
      'export { h } from "./reexport";',
      'export { type I } from "./reexport-typed";',
      'export type { J } from "./reexport-type";',
      "export { local };",
      "const m = import.meta.url;",
      'const lazy = () => import("./dynamic");',
      'type T = typeof import("./typeof-import");',
    ].join("\n");
    const found = parseImports("src/x.ts", source).map((imp) => `${imp.specifier} ${imp.kind}${imp.typeOnly ? " type-only" : ""}`);
    expect(found).toEqual([
      "./in-template dynamic",
      "./mixed import",
      "./whole-type import type-only",
      "./binding-named-type import",
      "./all-typed import type-only",
      "./empty-braces import",
      "./namespace import",
      "./side-effect side-effect",
      "./multi-line import",
      "./star export-from",
      "./star-type export-from type-only",
      "./star-as export-from",
      "./reexport export-from",
      "./reexport-typed export-from type-only",
      "./reexport-type export-from type-only",
      "./dynamic dynamic",
      "./typeof-import dynamic type-only",
    ]);
  });
});
