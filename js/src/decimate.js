// What a chart can show of a long series: per column (a pixel or two wide) its lowest
// and highest point, in their order (MinMax decimation, as plotly-resampler's MinMax
// aggregator: the drawn band of the line is the band of all the points), so a trace of
// 100k points costs plotly about a thousand: plotly's draw time grows with the points
// it is given. A NaN in a column is kept too, so a gap in the feed stays a break in the
// line. Pure: no DOM, no plotly (node's test runner imports it).

/** Index of the first x >= value in the sorted `x[0, n)`. */
export function lowerBound(x, n, value) {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The points of `x`/`y` (first `n`, x ascending, epoch ms or any number) a plot of
 * `columns` columns over [x0, x1] needs: all of them when they are few (2 a column at
 * most), else per column the lowest and highest point and the first NaN, in order, and
 * the first and last point. One point on each side of the range is kept, so the line
 * runs to the plot's edges. A range of null (or x0 >= x1) means the whole series.
 *
 * @param {Float64Array} x
 * @param {Float64Array} y
 * @param {{n?: number, x0?: number|null, x1?: number|null, columns?: number}} [options]
 * @returns {{x: Float64Array, y: Float64Array, decimated: boolean}} subarrays of the input
 *   when nothing had to go, else new arrays (at most 3 * columns + 4 points).
 * @example decimate(xs, ys, { x0: t0, x1: t1, columns: 800 })
 */
export function decimate(x, y, { n = Math.min(x.length, y.length), x0 = null, x1 = null, columns = 1000 } = {}) {
  if (n === 0) return { x: x.subarray(0, 0), y: y.subarray(0, 0), decimated: false };
  let start = 0;
  let end = n;
  if (x0 != null && x1 != null && x1 > x0) {
    start = Math.max(0, lowerBound(x, n, x0) - 1);
    end = Math.min(n, lowerBound(x, n, x1) + 1);
    // x1 itself may be a point: keep it and the one after.
    while (end < n && x[end - 1] <= x1) end += 1;
  }
  const cols = Math.max(1, Math.floor(columns));
  if (end - start <= 2 * cols) {
    return { x: x.subarray(start, end), y: y.subarray(start, end), decimated: false };
  }
  let lo = x0 != null && x1 != null && x1 > x0 ? x0 : x[start];
  let hi = x0 != null && x1 != null && x1 > x0 ? x1 : x[end - 1];
  if (!(hi > lo)) hi = lo + 1;
  const scale = cols / (hi - lo);
  const outX = new Float64Array(3 * cols + 4 + 8);
  const outY = new Float64Array(outX.length);
  let at = 0;
  const emit = (i) => {
    outX[at] = x[i];
    outY[at] = y[i];
    at += 1;
  };
  // The points outside the range (at most one each side) are their own columns.
  let column = NaN;
  let first = -1;
  let low = -1;
  let high = -1;
  let last = -1;
  let gap = -1;
  const picked = [0, 0, 0, 0, 0];
  const flush = () => {
    if (first < 0) return;
    let k = 0;
    // The series' own first and last points are kept: the line starts and ends there.
    const ends = first === start ? first : -1;
    const tail = last === end - 1 ? last : -1;
    for (const i of [ends, low, high, tail, gap]) {
      if (i < 0) continue;
      let seen = false;
      for (let j = 0; j < k; j++) if (picked[j] === i) seen = true;
      if (!seen) picked[k++] = i;
    }
    const chosen = picked.slice(0, k).sort((a, b) => a - b);
    for (const i of chosen) {
      if (at >= outX.length) break;
      emit(i);
    }
    first = low = high = last = gap = -1;
  };
  for (let i = start; i < end; i++) {
    const xi = x[i];
    let c = Math.floor((xi - lo) * scale);
    if (c < 0) c = -1;
    else if (c >= cols) c = xi > hi ? cols : cols - 1;
    if (c !== column) {
      flush();
      column = c;
    }
    const yi = y[i];
    if (first < 0) first = i;
    last = i;
    if (yi !== yi) {
      if (gap < 0) gap = i;
      continue;
    }
    if (low < 0 || yi < y[low]) low = i;
    if (high < 0 || yi > y[high]) high = i;
  }
  flush();
  return { x: outX.subarray(0, at), y: outY.subarray(0, at), decimated: true };
}

/** Whether the first `k` of `xs` are ascending and none is below `after`. */
function inOrder(xs, k, after) {
  let last = after;
  for (let i = 0; i < k; i++) {
    if (!(xs[i] >= last)) return false;
    last = xs[i];
  }
  return true;
}

/**
 * The points of one trace in time order, up to a limit, in typed arrays that grow by
 * appending (amortised: the kept points move to the front only when the spare room is
 * used up). Points in order cost their copy; a point earlier than those kept (a late
 * event) re-sorts the series once.
 * @example const s = new RawSeries(1000); s.append(xs, ys); s.x.subarray(0, s.n)
 */
export class RawSeries {
  constructor(limit) {
    this.limit = Math.max(1, limit | 0);
    this._x = new Float64Array(0);
    this._y = new Float64Array(0);
    this._start = 0;
    this.n = 0;
  }

  get x() {
    return this._x.subarray(this._start, this._start + this.n);
  }

  get y() {
    return this._y.subarray(this._start, this._start + this.n);
  }

  /** The last x, or NaN when empty. */
  get lastX() {
    return this.n ? this._x[this._start + this.n - 1] : NaN;
  }

  clear() {
    this._start = 0;
    this.n = 0;
  }

  setLimit(limit) {
    this.limit = Math.max(1, limit | 0);
    if (this.n > this.limit) {
      this._start += this.n - this.limit;
      this.n = this.limit;
    }
  }

  append(xs, ys) {
    let k = Math.min(xs.length, ys.length);
    if (!k) return;
    if (!inOrder(xs, k, this.n ? this.lastX : -Infinity)) {
      // A late event (a feed's times need not come in order): keep the series sorted by
      // time, so its line runs forward, the hover search and the decimation hold.
      [xs, ys] = this._merged(xs.subarray(0, k), ys.subarray(0, k));
      k = xs.length;
      this.clear();
    }
    if (this.n + k > this.limit && this._compact(xs.subarray(0, k), ys.subarray(0, k))) return;
    if (k >= this.limit) {
      this._ensure(this.limit);
      this._x.set(xs.subarray(k - this.limit, k), 0);
      this._y.set(ys.subarray(k - this.limit, k), 0);
      this._start = 0;
      this.n = this.limit;
      return;
    }
    const keep = Math.min(this.n, this.limit - k);
    if (this._start + this.n + k > this._x.length) {
      // Out of room: keep the newest `keep` points at the front (growing up to 2x limit).
      const from = this._start + this.n - keep;
      const size = Math.min(2 * this.limit, Math.max(2 * (keep + k), 64));
      if (size > this._x.length) {
        const nx = new Float64Array(size);
        const ny = new Float64Array(size);
        nx.set(this._x.subarray(from, from + keep));
        ny.set(this._y.subarray(from, from + keep));
        this._x = nx;
        this._y = ny;
      } else {
        this._x.copyWithin(0, from, from + keep);
        this._y.copyWithin(0, from, from + keep);
      }
      this._start = 0;
      this.n = keep;
    } else if (keep < this.n) {
      this._start += this.n - keep;
      this.n = keep;
    }
    const at = this._start + this.n;
    this._x.set(xs.subarray(0, k), at);
    this._y.set(ys.subarray(0, k), at);
    this.n += k;
  }

  /**
   * Take points that would overflow the limit without losing the span: the kept and the
   * new points together are reduced to their first, last, lowest and highest per column
   * (decimate) in half the limit, so a chart still shows everything it was sent, and the
   * next half fills before this is done again. Returns false (nothing done) for a limit
   * too small to reduce into: the oldest points are then dropped instead.
   */
  _compact(xs, ys) {
    const target = Math.floor(this.limit / 2);
    const columns = Math.floor((target - 4) / 3);
    if (columns < 2) return false;
    const [x, y] = this._joined(xs, ys);
    const d = decimate(x, y, { columns });
    if (d.x.length > this.limit) return false;
    this._ensure(this.limit);
    this._x.set(d.x, 0);
    this._y.set(d.y, 0);
    this._start = 0;
    this.n = d.x.length;
    return true;
  }

  /** The kept points and then the new ones, in new arrays. */
  _joined(xs, ys) {
    const x = new Float64Array(this.n + xs.length);
    const y = new Float64Array(x.length);
    x.set(this.x, 0);
    y.set(this.y, 0);
    x.set(xs, this.n);
    y.set(ys, this.n);
    return [x, y];
  }

  /** The kept and the new points in one pair of arrays, stably sorted by x. */
  _merged(xs, ys) {
    const [x, y] = this._joined(xs, ys);
    const order = Array.from(x, (_, i) => i).sort((a, b) => x[a] - x[b] || a - b);
    return [Float64Array.from(order, (i) => x[i]), Float64Array.from(order, (i) => y[i])];
  }

  _ensure(size) {
    if (this._x.length < size) {
      this._x = new Float64Array(Math.min(2 * this.limit, Math.max(size, 64)));
      this._y = new Float64Array(this._x.length);
    }
  }
}
