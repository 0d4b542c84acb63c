// A colour stays with its series or stream for as long as it is shown, so a chip, its
// trace and a stream's rate line keep matching across add/remove and window redraws.
const COLORS = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];

export class Palette {
  constructor() {
    this.assigned = new Map();
  }

  color(key) {
    let c = this.assigned.get(key);
    if (c) return c;
    const used = new Set(this.assigned.values());
    c = COLORS.find((x) => !used.has(x)) ?? COLORS[this.assigned.size % COLORS.length];
    this.assigned.set(key, c);
    return c;
  }

  release(key) {
    this.assigned.delete(key);
  }
}
