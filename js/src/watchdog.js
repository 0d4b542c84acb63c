// Is the kernel still there? An open widget's kernel sends something at least every
// Limit.HEARTBEAT_SECONDS (a heartbeat when nothing else changed), so a view that hears
// nothing for longer than its limit knows the kernel stopped answering: restarted, shut
// down, or busy with a long cell. It says so until the kernel is heard again. Pure (the
// clock is given), so it is tested without a page.

/**
 * A watchdog over the kernel's messages.
 *
 * limitMs: silence after which the kernel counts as gone. now(): the clock in ms.
 * onChange(seconds | null): called when the verdict changes (seconds of silence, or null
 * when the kernel answers again) and, while gone, when the whole seconds grow.
 * @example
 *   const dog = createWatchdog({ limitMs: 4000, onChange: (s) => header.setKernelSilent(s) });
 *   model.on("msg:custom", dog.heard); setInterval(() => dog.check(isOpen()), 1000);
 */
export function createWatchdog({ limitMs, now = () => Date.now(), onChange }) {
  let last = now();
  let said = null;
  const tell = (seconds) => {
    if (seconds === said) return;
    said = seconds;
    onChange(seconds);
  };
  return {
    /** The kernel said something (a message, a trait change). */
    heard() {
      last = now();
      tell(null);
    },
    /** Judge now; `open` false (the widget closed) means silence is expected. */
    check(open) {
      const silent = now() - last;
      tell(open && silent >= limitMs ? Math.floor(silent / 1000) : null);
    },
    get gone() {
      return said !== null;
    },
  };
}
