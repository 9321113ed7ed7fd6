/**
 * Failed authentication, counted per client address over a sliding window:
 * past `limit` failures an address is answered 429 (with Retry-After) until
 * its oldest failure leaves the window, whatever token it sends. Guessing
 * tokens at speed is pointless; a person who mistyped waits a minute. Kept
 * in the API process: each process counts for itself.
 */
export class FailedAuthThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 60_000,
    private readonly maxAddresses = 100_000,
  ) {}

  /** Seconds to wait before `address` may try again, or undefined when it may now. */
  retryAfter(address: string, now = Date.now()): number | undefined {
    const recent = this.recent(address, now);
    if (recent.length < this.limit) return undefined;
    return Math.max(1, Math.ceil((recent[recent.length - this.limit]! + this.windowMs - now) / 1000));
  }

  record(address: string, now = Date.now()): void {
    const recent = this.recent(address, now);
    recent.push(now);
    this.failures.delete(address);
    this.failures.set(address, recent);
    // Oldest addresses first out: a flood of addresses cannot grow this without bound.
    while (this.failures.size > this.maxAddresses) this.failures.delete(this.failures.keys().next().value!);
  }

  private recent(address: string, now: number): number[] {
    return (this.failures.get(address) ?? []).filter((t) => t > now - this.windowMs);
  }
}
