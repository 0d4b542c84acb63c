// JSON text to a tree the inspector draws, keeping every number's literal text:
// JSON.parse would turn 12345678901234567890 into 12345678901234567000, and the
// inspector must show what the server sent. Pure (node's test runner imports it).

/**
 * @typedef {{type: "object"|"array", key: string|null, children: JsonNode[]}
 *   | {type: "string"|"number"|"true"|"false"|"null", key: string|null, text: string}} JsonNode
 * Leaves keep `text`: the decoded string for a string, the literal for anything else.
 */

const WS = new Set([" ", "\t", "\n", "\r"]);
const ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Parse JSON text into a tree, or null when it is not (whole) JSON: a payload cut at
 * the size limit, or one the kernel could only describe.
 * @example parseJsonTree('{"id": 12345678901234567890}').children[0].text // "12345678901234567890"
 * @returns {JsonNode|null}
 */
export function parseJsonTree(text) {
  const src = String(text ?? "");
  let at = 0;
  const fail = () => {
    throw new SyntaxError(`not JSON at ${at}`);
  };
  const skip = () => {
    while (at < src.length && WS.has(src[at])) at++;
  };
  const string = () => {
    // at is on the opening quote.
    at++;
    let out = "";
    for (;;) {
      if (at >= src.length) fail();
      const c = src[at++];
      if (c === '"') return out;
      if (c === "\\") {
        const e = src[at++];
        if (e === "u") {
          const hex = src.slice(at, at + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail();
          out += String.fromCharCode(parseInt(hex, 16));
          at += 4;
        } else if (e in ESCAPES) out += ESCAPES[e];
        else fail();
      } else if (c < " ") fail();
      else out += c;
    }
  };
  const value = (key) => {
    skip();
    const c = src[at];
    if (c === "{") {
      at++;
      const node = { type: "object", key, children: [] };
      skip();
      if (src[at] === "}") {
        at++;
        return node;
      }
      for (;;) {
        skip();
        if (src[at] !== '"') fail();
        const name = string();
        skip();
        if (src[at++] !== ":") fail();
        node.children.push(value(name));
        skip();
        const sep = src[at++];
        if (sep === "}") return node;
        if (sep !== ",") fail();
      }
    }
    if (c === "[") {
      at++;
      const node = { type: "array", key, children: [] };
      skip();
      if (src[at] === "]") {
        at++;
        return node;
      }
      for (let i = 0; ; i++) {
        node.children.push(value(String(i)));
        skip();
        const sep = src[at++];
        if (sep === "]") return node;
        if (sep !== ",") fail();
      }
    }
    if (c === '"') return { type: "string", key, text: string() };
    for (const word of ["true", "false", "null"]) {
      if (src.startsWith(word, at)) {
        at += word.length;
        return { type: word, key, text: word };
      }
    }
    NUMBER.lastIndex = at;
    const m = NUMBER.exec(src);
    if (!m) fail();
    at += m[0].length;
    return { type: "number", key, text: m[0] };
  };
  try {
    const root = value(null);
    skip();
    return at === src.length ? root : null;
  } catch {
    return null;
  }
}

/**
 * A one-line summary of a node: a leaf's value (strings quoted), or a container's size.
 * @example summary({type: "array", children: [1, 2]}) // "[2 items]"
 */
export function summary(node) {
  if (node.type === "object") {
    const n = node.children.length;
    return `{${n} ${n === 1 ? "key" : "keys"}}`;
  }
  if (node.type === "array") {
    const n = node.children.length;
    return `[${n} ${n === 1 ? "item" : "items"}]`;
  }
  return node.type === "string" ? JSON.stringify(node.text) : node.text;
}
