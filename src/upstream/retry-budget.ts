/**
 * A refresh-wide cap on retries. Per-request retries are bounded already
 * (`upstream.retries`); this bounds their sum, so that when the upstream is
 * down a refresh of 1,000 projects fails after its budget instead of
 * multiplying the load on a struggling upstream by three.
 */
export class RetryBudget {
  private left: number;

  constructor(units: number, ratio = 0.2, minimum = 10) {
    this.left = Math.max(minimum, Math.ceil(units * ratio));
  }

  /** Takes one retry from the budget; false when none is left. */
  take(): boolean {
    if (this.left <= 0) return false;
    this.left -= 1;
    return true;
  }

  get remaining(): number {
    return this.left;
  }
}
