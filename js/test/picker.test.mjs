// The field picker: measurements before other numbers, split keys per group, search.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fieldOptions, searchMatches } from "../src/picker_model.js";

test("measurements first, then ids and times; keys come with their group", () => {
  const options = fieldOptions([
    { stream: "aircraft", type: "pos", fields: ["data.altitude"], other: ["data.seq"], keys: ["data.icaoHex"] },
    { stream: "markets", type: "tick", fields: ["data.price"], other: ["data.timestamp"], keys: [] },
  ]);
  assert.deepEqual(
    options.map((o) => [o.label, o.group]),
    [
      ["aircraft / pos / data.altitude", "measure"],
      ["markets / tick / data.price", "measure"],
      ["aircraft / pos / data.seq", "other"],
      ["markets / tick / data.timestamp", "other"],
    ],
  );
  assert.deepEqual(options[0].keys, ["data.icaoHex"]);
  assert.deepEqual(JSON.parse(options[1].value), { stream: "markets", type: "tick", field: "data.price" });
});

test("the old shape (fields only) still gives choices", () => {
  const options = fieldOptions([{ stream: null, type: "t", fields: ["data.v"] }]);
  assert.deepEqual(options.map((o) => [o.label, o.group, o.keys]), [["t / data.v", "measure", []]]);
  assert.deepEqual(fieldOptions(null), []);
});

test("search: every word, any order, any case", () => {
  assert.equal(searchMatches("markets / tick / data.price", "PRICE mark"), true);
  assert.equal(searchMatches("markets / tick / data.price", "price aircraft"), false);
  assert.equal(searchMatches("anything", "  "), true);
});
