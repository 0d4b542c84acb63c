// The field picker's choices and search, decided without the DOM (node's test runner
// imports it).

function defaultLabel(key) {
  const parts = [key.type, key.field];
  if (key.stream != null && key.stream !== "") parts.unshift(key.stream);
  return parts.map(String).join(" / ");
}

// The picker's choices, measurements first: `[{value, label, key, group, keys}]`, group
// "measure" (a group's `fields`) or "other" (its `other`: ids, counters, epoch times);
// `keys` are the group's split-key candidates. Old kernels send `fields` alone.
// `label` names a field for the user (the charts' own label).
// @example fieldOptions([{stream: "m", type: "t", fields: ["data.p"], other: ["data.seq"], keys: ["data.sym"]}])
//   .map((o) => [o.label, o.group]) // [["m / t / data.p", "measure"], ["m / t / data.seq", "other"]]
export function fieldOptions(fields, label = defaultLabel) {
  const measures = [];
  const others = [];
  const seen = new Set();
  for (const group of Array.isArray(fields) ? fields : []) {
    const keys = Array.isArray(group?.keys) ? group.keys.map(String) : [];
    for (const [kind, names, into] of [
      ["measure", group?.fields, measures],
      ["other", group?.other, others],
    ]) {
      for (const field of Array.isArray(names) ? names : []) {
        const key = { stream: group.stream ?? null, type: group.type, field };
        const value = JSON.stringify(key);
        if (seen.has(value)) continue;
        seen.add(value);
        into.push({ value, label: label(key), key, group: kind, keys });
      }
    }
  }
  return [...measures, ...others];
}

/**
 * Whether a picker label matches what was typed: every word, in any order, ignoring case.
 * @example searchMatches("markets / tick / data.price", "price mark") // true
 */
export function searchMatches(label, query) {
  const text = String(label).toLowerCase();
  return String(query ?? "")
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => text.includes(word));
}

