// typedarray-pool (through plotly's gl-text) requires Node's `buffer` only to ask
// Buffer.isBuffer in a free() path scattergl never takes; plotly's own build ships the
// `buffer` polyfill for it. No value here is ever a Buffer.
export const Buffer = { isBuffer: () => false };
