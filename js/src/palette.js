// Colours of streams, series and split keys. Pure: no DOM (node's test runner imports it).
//
// A name's colour follows from the name itself: its hash picks a slot of COLORS, and a
// slot already taken passes it on to the next free one (linear probing). Names are placed
// in sorted order when several arrive at once (a page load, a window), so the same set
// of names always gets the same colours, after a reload too; a name placed earlier keeps
// its colour while later ones arrive, so no line changes colour under the user's eyes.
// No two names share a colour while there are no more names than colours.

// Kenneth Kelly's colours of maximum contrast (1965), without white and black (each
// vanishes on one of the two themes), his olive-black, and the hues that sit close to
// another one (orange-yellow, greenish yellow, salmon, purplish red, the second brown,
// reddish orange): 13 colours that stay apart on light and dark backgrounds.
export const COLORS = Object.freeze([
  "#F3C300", // vivid yellow
  "#875692", // strong purple
  "#F38400", // vivid orange
  "#A1CAF1", // very light blue
  "#BE0032", // vivid red
  "#C2B280", // greyish yellow
  "#848482", // medium grey
  "#008856", // vivid green
  "#E68FAC", // strong purplish pink
  "#0067A5", // strong blue
  "#604E97", // strong violet
  "#882D17", // strong reddish brown
  "#8DB600", // vivid yellowish green
]);

/** FNV-1a 32-bit hash of a string's UTF-16 code units. */
export function hashName(name) {
  let h = 0x811c9dc5;
  const s = String(name);
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export class Palette {
  /** @param {readonly string[]} [colors] the colours to choose from (COLORS). */
  constructor(colors = COLORS) {
    this.colors = colors;
    this.assigned = new Map();
  }

  /** The colour of `key`, placing it (hash, then the next free slot) if new. */
  color(key) {
    const k = String(key);
    let c = this.assigned.get(k);
    if (c) return c;
    const used = new Set(this.assigned.values());
    const n = this.colors.length;
    const home = hashName(k) % n;
    c = this.colors[home];
    for (let step = 0; step < n; step++) {
      const candidate = this.colors[(home + step) % n];
      if (!used.has(candidate)) {
        c = candidate;
        break;
      }
    }
    this.assigned.set(k, c);
    return c;
  }

  /** Place the names not placed yet, in sorted order (the same set, the same colours). */
  place(keys) {
    const fresh = [...new Set([...keys].map(String))].filter((k) => !this.assigned.has(k));
    fresh.sort();
    for (const k of fresh) this.color(k);
  }

  /** Forget `key`: its colour is free for the next new name. */
  release(key) {
    this.assigned.delete(String(key));
  }
}
