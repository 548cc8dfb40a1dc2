// The layer rules of src/, checked by reading the sources (test/architecture.test.ts).
// Everything works on a map of path → source text, so the same checks run on the real tree
// and on small in-memory fixtures. Paths are posix and relative to the repository root
// ("src/queue/queue-do.ts").
import { readdirSync, readFileSync } from "node:fs";
import { join, posix, relative, sep } from "node:path";

// ---- the rules (data: add a row to add a rule)

/** Files in `from` folders may not import (type-only imports included) from `forbidden` folders. */
export interface LayerRule {
  name: string;
  /** Folders under src/ whose files the rule constrains (subfolders included). */
  from: readonly string[];
  /** Folders under src/ those files must not import from. */
  forbidden?: readonly string[];
  /** Imports must stay inside the file's own `from` folder: no other folder, no package, no `node:` or `cloudflare:` module. */
  selfContained?: boolean;
}

export const LAYER_RULES: readonly LayerRule[] = [
  {
    name: "amqp/ is a pure codec: it imports nothing outside amqp/ (no package, node:* or cloudflare:* either)",
    from: ["amqp"],
    selfContained: true,
  },
  { name: "core/ imports nothing from session/ or http/", from: ["core"], forbidden: ["session", "http"] },
  {
    name: "queue/, exchange/, control/, auth/ and storage/ import nothing from session/ or http/",
    from: ["queue", "exchange", "control", "auth", "storage"],
    forbidden: ["session", "http"],
  },
  {
    name: "storage/ imports nothing from queue/, exchange/, core/ or session/",
    from: ["storage"],
    forbidden: ["queue", "exchange", "core", "session"],
  },
];

/** File names under src/: lower-case words joined by hyphens. */
export const FILE_NAME = /^[a-z0-9]+(-[a-z0-9]+)*\.ts$/;

// ---- reading the tree

/** Every file under `<root>/src`, keyed by its posix path relative to `root`. */
export function readSourceTree(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) files.set(relative(root, full).split(sep).join("/"), readFileSync(full, "utf8"));
    }
  };
  walk(join(root, "src"));
  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

// ---- a small TypeScript lexer: enough to find import/export statements and class headers

interface Token {
  kind: "name" | "string" | "punct" | "other";
  value: string;
  line: number;
}

const REGEX_AFTER = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/**
 * Splits TypeScript source into names, string literals and punctuation. Comments go; the text
 * of template literals goes but their `${…}` expressions are lexed; regular expressions are
 * told from division by the token before them (the usual heuristic).
 */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  /** For each open template `${`: the brace depth at which its expression ends. */
  const templates: number[] = [];
  let depth = 0;
  const push = (kind: Token["kind"], value: string) => tokens.push({ kind, value, line });
  const regexAllowed = () => {
    const prev = tokens[tokens.length - 1];
    if (!prev) return true;
    if (prev.kind === "punct") return !(prev.value === ")" || prev.value === "]" || prev.value === "}");
    return prev.kind === "name" && REGEX_AFTER.has(prev.value);
  };
  /** Skips template text from i (just after ` or }) to the closing ` or a `${`. */
  const templateText = () => {
    while (i < source.length) {
      const c = source[i]!;
      if (c === "\\") {
        i += 2;
        continue;
      }
      if (c === "\n") line++;
      if (c === "`") {
        i++;
        push("other", "`template`");
        return;
      }
      if (c === "$" && source[i + 1] === "{") {
        i += 2;
        templates.push(depth);
        depth++;
        return;
      }
      i++;
    }
  };
  while (i < source.length) {
    const c = source[i]!;
    if (c === "\n") {
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "/" && source[i + 1] === "/") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? source.length : end + 2;
      for (let k = i; k < stop; k++) if (source[k] === "\n") line++;
      i = stop;
    } else if (c === '"' || c === "'") {
      let value = "";
      i++;
      while (i < source.length && source[i] !== c && source[i] !== "\n") {
        if (source[i] === "\\") i++;
        value += source[i] ?? "";
        i++;
      }
      i++;
      push("string", value);
    } else if (c === "`") {
      i++;
      templateText();
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z0-9_$]+/.exec(source.slice(i, i + 256))!;
      push("name", m[0]);
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9A-Za-z_.]+/.exec(source.slice(i, i + 256))!;
      push("other", m[0]);
      i += m[0].length;
    } else if (c === "/" && regexAllowed()) {
      let inClass = false;
      i++;
      while (i < source.length && source[i] !== "\n") {
        const r = source[i]!;
        if (r === "\\") i++;
        else if (r === "[") inClass = true;
        else if (r === "]") inClass = false;
        else if (r === "/" && !inClass) break;
        i++;
      }
      i++;
      while (i < source.length && /[a-z]/.test(source[i]!)) i++;
      push("other", "/regex/");
    } else if (c === "{") {
      depth++;
      i++;
      push("punct", "{");
    } else if (c === "}") {
      i++;
      if (templates.length > 0 && templates[templates.length - 1] === depth - 1) {
        // The end of a template's ${…}: back to its text.
        templates.pop();
        depth--;
        templateText();
      } else {
        depth--;
        push("punct", "}");
      }
    } else {
      i++;
      push("punct", c);
    }
  }
  return tokens;
}

// ---- imports

export interface Import {
  /** The file the import is written in. */
  file: string;
  line: number;
  /** The module specifier as written. */
  specifier: string;
  kind: "import" | "side-effect" | "export-from" | "dynamic" | "require";
  /** Erased at compile time: `import type`, `export type … from`, or every named specifier marked `type`. */
  typeOnly: boolean;
  /** The file under src/ a relative specifier resolves to; null if it resolves to none. */
  target: string | null;
}

const isName = (t: Token | undefined, value?: string): boolean => t?.kind === "name" && (value === undefined || t.value === value);
const isPunct = (t: Token | undefined, value: string): boolean => t?.kind === "punct" && t.value === value;

/** `{ a, type B, c as d }` from the opening brace at `open`: the specifiers' tokens and the index after the closing brace. */
function braceList(tokens: Token[], open: number): { specifiers: Token[][]; end: number } {
  const specifiers: Token[][] = [];
  let current: Token[] = [];
  let j = open + 1;
  for (; j < tokens.length && !isPunct(tokens[j], "}"); j++) {
    if (isPunct(tokens[j], ",")) {
      if (current.length > 0) specifiers.push(current);
      current = [];
    } else current.push(tokens[j]!);
  }
  if (current.length > 0) specifiers.push(current);
  return { specifiers, end: j + 1 };
}

/** `type A` or `type A as B` (but not a binding named `type`, nor `type as B`, which renames it). */
function isTypeSpecifier(s: Token[]): boolean {
  return isName(s[0], "type") && s.length >= 2 && !(s.length === 3 && isName(s[1], "as"));
}

/** The import and export-from statements (and dynamic imports) of one file, unresolved. */
export function parseImports(file: string, source: string): Omit<Import, "target">[] {
  const tokens = tokenize(source);
  const out: Omit<Import, "target">[] = [];
  const add = (at: Token, specifier: string, kind: Import["kind"], typeOnly: boolean) =>
    out.push({ file, line: at.line, specifier, kind, typeOnly });
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== "name" || isPunct(tokens[i - 1], ".")) continue;
    if (t.value === "import") {
      const next = tokens[i + 1];
      if (isPunct(next, "(")) {
        // import("x"): only a literal specifier can be checked; `typeof import("x")` is a type.
        if (tokens[i + 2]?.kind === "string") add(t, tokens[i + 2]!.value, "dynamic", isName(tokens[i - 1], "typeof"));
        continue;
      }
      if (isPunct(next, ".")) continue; // import.meta
      if (next?.kind === "string") {
        add(t, next.value, "side-effect", false);
        continue;
      }
      let j = i + 1;
      let typeOnly = false;
      // `import type X …`, but `import type from "x"` and `import type, {…}` import a binding named type.
      if (isName(tokens[j], "type") && !isName(tokens[j + 1], "from") && !isPunct(tokens[j + 1], ",") && !isPunct(tokens[j + 1], "=")) {
        typeOnly = true;
        j++;
      }
      // import x = require("y")
      if (isName(tokens[j]) && isPunct(tokens[j + 1], "=")) {
        if (isName(tokens[j + 2], "require") && isPunct(tokens[j + 3], "(") && tokens[j + 4]?.kind === "string") {
          add(t, tokens[j + 4]!.value, "require", typeOnly);
        }
        continue;
      }
      let hasDefaultOrNamespace = false;
      let named: Token[][] | null = null;
      for (; j < tokens.length; j++) {
        const u = tokens[j]!;
        if (isName(u, "from") && tokens[j + 1]?.kind === "string") break;
        if (isPunct(u, "{")) {
          const list = braceList(tokens, j);
          named = list.specifiers;
          j = list.end - 1;
        } else if (isPunct(u, "*") || (u.kind === "name" && !isName(u, "as"))) hasDefaultOrNamespace = true;
        else if (isPunct(u, ";") || u.kind === "string") break;
      }
      if (!isName(tokens[j], "from") || tokens[j + 1]?.kind !== "string") continue;
      // `import { type A, type B }` is erased too; `import {}` is kept (it runs the module).
      const allTyped = !hasDefaultOrNamespace && named !== null && named.length > 0 && named.every(isTypeSpecifier);
      add(t, tokens[j + 1]!.value, "import", typeOnly || allTyped);
      i = j + 1;
    } else if (t.value === "export") {
      let j = i + 1;
      let typeOnly = false;
      if (isName(tokens[j], "type") && (isPunct(tokens[j + 1], "{") || isPunct(tokens[j + 1], "*"))) {
        typeOnly = true;
        j++;
      }
      let allTyped = false;
      if (isPunct(tokens[j], "*")) {
        j++;
        if (isName(tokens[j], "as")) j += 2;
      } else if (isPunct(tokens[j], "{")) {
        const list = braceList(tokens, j);
        allTyped = list.specifiers.length > 0 && list.specifiers.every(isTypeSpecifier);
        j = list.end;
      } else continue;
      if (isName(tokens[j], "from") && tokens[j + 1]?.kind === "string") {
        add(t, tokens[j + 1]!.value, "export-from", typeOnly || allTyped);
        i = j + 1;
      }
    }
  }
  return out;
}

const isRelative = (specifier: string) =>
  specifier === "." || specifier === ".." || specifier.startsWith("./") || specifier.startsWith("../");

/** `./foo` from src/a/b.ts: src/a/foo.ts, src/a/foo/index.ts (or the file itself, or foo.js written for foo.ts). */
export function resolveSpecifier(from: string, specifier: string, files: ReadonlySet<string>): string | null {
  if (!isRelative(specifier)) return null;
  const base = posix.normalize(posix.join(posix.dirname(from), specifier));
  const candidates = [base, `${base}.ts`, `${base}/index.ts`];
  if (base.endsWith(".js")) candidates.push(`${base.slice(0, -3)}.ts`);
  return candidates.find((c) => files.has(c)) ?? null;
}

/** Every import of every .ts file, relative ones resolved. */
export function collectImports(files: ReadonlyMap<string, string>): Import[] {
  const names = new Set(files.keys());
  const out: Import[] = [];
  for (const [file, source] of files) {
    if (!file.endsWith(".ts")) continue;
    for (const imp of parseImports(file, source)) out.push({ ...imp, target: resolveSpecifier(file, imp.specifier, names) });
  }
  return out;
}

// ---- the checks; each returns one line per offence (empty: all good)

/** "src/core/x.ts" is in folder "core" (subfolders included). */
const inFolder = (file: string, folder: string) => file.startsWith(`src/${folder}/`);

function describeImport(imp: Import): string {
  const what = imp.target ? ` (${imp.target})` : "";
  return `${imp.file}:${imp.line} ${imp.kind} "${imp.specifier}"${what}${imp.typeOnly ? " [type-only]" : ""}`;
}

export function layerViolations(imports: readonly Import[], rule: LayerRule): string[] {
  const out: string[] = [];
  for (const imp of imports) {
    const home = rule.from.find((f) => inFolder(imp.file, f));
    if (home === undefined) continue;
    if (rule.selfContained) {
      // An unresolved specifier is judged by where it points (unresolvedImports reports it too).
      const where = imp.target ?? posix.normalize(posix.join(posix.dirname(imp.file), imp.specifier));
      if (!isRelative(imp.specifier)) out.push(`${describeImport(imp)}: a module outside src/${home}/`);
      else if (!inFolder(where, home)) out.push(`${describeImport(imp)}: leaves src/${home}/`);
    }
    for (const banned of rule.forbidden ?? []) {
      if (imp.target !== null && inFolder(imp.target, banned))
        out.push(`${describeImport(imp)}: src/${home}/ may not import src/${banned}/`);
    }
  }
  return out;
}

/** Relative imports that name no file under src/. */
export function unresolvedImports(imports: readonly Import[]): string[] {
  return imports.filter((imp) => isRelative(imp.specifier) && imp.target === null).map((imp) => `${describeImport(imp)}: no such file`);
}

/**
 * Cycles among runtime imports (type-only ones are erased, so they cannot form one): one
 * cycle per strongly connected component, as "a.ts → b.ts → a.ts", followed by all the
 * component's files when it holds more than that one cycle.
 */
export function runtimeCycles(imports: readonly Import[]): string[] {
  const edges = new Map<string, Set<string>>();
  for (const imp of imports) {
    if (imp.typeOnly || imp.target === null) continue;
    let set = edges.get(imp.file);
    if (!set) edges.set(imp.file, (set = new Set()));
    set.add(imp.target);
  }
  const nodes = [...new Set([...edges.keys(), ...[...edges.values()].flatMap((s) => [...s])])].sort();
  const next = (n: string) => [...(edges.get(n) ?? [])].sort();
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      components.push(component);
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  const cycles: string[] = [];
  for (const component of components) {
    const members = new Set(component);
    const start = [...members].sort()[0]!;
    if (members.size === 1 && !edges.get(start)?.has(start)) continue;
    // Shortest way back to `start` inside the component.
    const prev = new Map<string, string>();
    const queue = [start];
    let found = false;
    while (queue.length > 0 && !found) {
      const v = queue.shift()!;
      for (const w of next(v)) {
        if (!members.has(w)) continue;
        if (w === start) {
          prev.set(start, v);
          found = true;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = prev.get(start)!; v !== start; v = prev.get(v)!) path.unshift(v);
    path.unshift(start);
    const knot = members.size > path.length - 1 ? ` (one of the cycles among ${[...members].sort().join(", ")})` : "";
    cycles.push(path.join(" → ") + knot);
  }
  return cycles.sort();
}

/** File names under src/ that are not kebab-case .ts names. */
export function badFileNames(files: Iterable<string>): string[] {
  return [...files].filter((f) => !FILE_NAME.test(posix.basename(f))).map((f) => `${f}: not kebab-case (${FILE_NAME})`);
}

/** Exported classes extending DurableObject whose name does not end in "DO". */
export function badDurableObjectNames(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [file, source] of files) {
    if (!file.endsWith(".ts")) continue;
    const tokens = tokenize(source);
    // Names exported by a list (`export { A, B as C }`), for classes declared without `export`.
    const listed = new Set<string>();
    tokens.forEach((t, i) => {
      if (isName(t, "export") && isPunct(tokens[i + 1], "{")) {
        const { specifiers, end } = braceList(tokens, i + 1);
        if (isName(tokens[end], "from")) return;
        for (const s of specifiers) if (!isTypeSpecifier(s) && s[0]) listed.add(s[0].value);
      }
    });
    tokens.forEach((t, i) => {
      if (!isName(t, "class") || isPunct(tokens[i - 1], ".")) return;
      let j = i + 1;
      const name = isName(tokens[j]) && !isName(tokens[j], "extends") && !isName(tokens[j], "implements") ? tokens[j++]!.value : null;
      // Skip type parameters up to `extends`.
      let angle = 0;
      for (; j < tokens.length; j++) {
        if (isPunct(tokens[j], "<")) angle++;
        else if (isPunct(tokens[j], ">")) angle--;
        else if (angle === 0 && (isName(tokens[j], "extends") || isPunct(tokens[j], "{"))) break;
      }
      if (!isName(tokens[j], "extends")) return;
      j++;
      while (isName(tokens[j]) && isPunct(tokens[j + 1], ".")) j += 2;
      if (!isName(tokens[j], "DurableObject")) return;
      let k = i - 1;
      while (isName(tokens[k], "abstract") || isName(tokens[k], "default")) k--;
      const exported = isName(tokens[k], "export") || (name !== null && listed.has(name));
      if (!exported) return;
      if (name === null || !name.endsWith("DO"))
        out.push(`${file}:${t.line} class ${name ?? "(anonymous)"} extends DurableObject: its name must end in "DO"`);
    });
  }
  return out;
}
