// The inspector's JSON tree keeps numbers' literal text and refuses what is not JSON.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseJsonTree, summary } from "../src/jsontree.js";

test("a tree of the payload, big ints and markup kept as sent", () => {
  const tree = parseJsonTree('{\n  "id": 12345678901234567890,\n  "s": "<b>\\u00e9\\n</b>",\n  "l": [1.50, true, null, {}],\n  "o": {"x": -2e-3}\n}');
  assert.equal(tree.type, "object");
  assert.deepEqual(tree.children.map((c) => c.key), ["id", "s", "l", "o"]);
  assert.equal(tree.children[0].text, "12345678901234567890");
  assert.equal(tree.children[1].text, "<b>é\n</b>");
  assert.equal(summary(tree.children[1]), '"<b>é\\n</b>"');
  const list = tree.children[2];
  assert.deepEqual(list.children.map((c) => [c.key, c.type, summary(c)]), [
    ["0", "number", "1.50"],
    ["1", "true", "true"],
    ["2", "null", "null"],
    ["3", "object", "{0 keys}"],
  ]);
  assert.equal(summary(list), "[4 items]");
  assert.equal(tree.children[3].children[0].text, "-2e-3");
  assert.equal(parseJsonTree("7").text, "7");
});

test("cut or non-JSON text gives null", () => {
  assert.equal(parseJsonTree('{\n  "a": [1, 2\n… (cut)'), null);
  assert.equal(parseJsonTree("{'a': 1}"), null);
  assert.equal(parseJsonTree('{"a": 1} x'), null);
  assert.equal(parseJsonTree(""), null);
  assert.equal(parseJsonTree('"\\x"'), null);
});
